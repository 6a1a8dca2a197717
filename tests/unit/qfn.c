#include <limits.h>
#include <string.h>

#include "harness.h"
#include "qfn.h"
#include "auto.h"

TEST(qfn_names)
{
  char s[QFN_SIZE];
  size_t n;
  char want[64];

  n = qfn_fmt(s, "mess", 1234, 1);
  strcpy(want, "mess/");
  want[5 + fmt_ulong(want + 5, 1234 % auto_split)] = 0;
  strcat(want, "/1234");
  CHECK(n == strlen(want) && strcmp(s, want) == 0);
  CHECK(qfn_fmt(0, "mess", 1234, 1) == n);
  n = qfn_fmt(s, "todo", 77, 0);
  CHECK(n == 7 && strcmp(s, "todo/77") == 0);
  n = qfn_fmt(s, "remote", 0, 1);
  CHECK(strcmp(s, "remote/0/0") == 0 && n == 10);
}

TEST(qfn_longest_fits)
{
  char s[QFN_SIZE + 1];
  size_t n;
  memset(s, 'x', sizeof s);
  n = qfn_fmt(s, "0123456789abcdef", ULONG_MAX, 1);
  CHECK(n + 1 <= QFN_SIZE && s[n] == 0);
  CHECK(s[QFN_SIZE] == 'x');
}

TEST(qfn_ids)
{
  unsigned long id = 5;
  CHECK(qfn_id("123", &id) && id == 123);
  CHECK(!qfn_id("", &id));
  CHECK(!qfn_id("12a", &id));
  CHECK(!qfn_id(".", &id));
  CHECK(!qfn_id("99999999999999999999999", &id));
  CHECK(!qfn_id("-1", &id));
}
