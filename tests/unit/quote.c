#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "quote.h"

static int is(const sa *x, const char *s)
{
  return x->len == strlen(s) && memcmp(x->s, s, x->len) == 0;
}

TEST(quote_need_cases)
{
  CHECK(!quote_need("joe", 3));
  CHECK(!quote_need("joe.smith", 9));
  CHECK(!quote_need("a+b-c=d/e?f^g{h}i|j~k!#$%&'*", 28));
  CHECK(!quote_need("j\xc3\xb6rg", 5));   /* UTF-8 local part (RFC 6532) */
  CHECK(quote_need("", 0));
  CHECK(quote_need(".joe", 4));
  CHECK(quote_need("joe.", 4));
  CHECK(quote_need("jo..e", 5));
  CHECK(quote_need("joe smith", 9));
  CHECK(quote_need("a@b", 3));
  CHECK(quote_need("a\"b", 3));
  CHECK(quote_need("a\0b", 3));
  CHECK(quote_need("a(b)", 4));
}

TEST(quote_cat_escapes)
{
  sa x = SA_ZERO;
  CHECK(quote_cat(&x, "joe", 3) && is(&x, "joe"));
  x.len = 0;
  CHECK(quote_cat(&x, "joe smith", 9) && is(&x, "\"joe smith\""));
  x.len = 0;
  CHECK(quote_cat(&x, "a\"b\\c", 5) && is(&x, "\"a\\\"b\\\\c\""));
  x.len = 0;
  CHECK(quote_cat(&x, "a\nb", 3) && is(&x, "\"a_b\""));
  x.len = 0;
  CHECK(quote_cat(&x, "a\rb\001", 4) && is(&x, "\"a_b\\\001\""));
  x.len = 0;
  CHECK(quote_cat(&x, "", 0) && is(&x, "\"\""));
  sa_free(&x);
}

TEST(quote_addr_local_part_only)
{
  sa x = SA_ZERO;
  CHECK(quote_addr(&x, "joe@example.com", 15) && is(&x, "joe@example.com"));
  x.len = 0;
  CHECK(quote_addr(&x, "joe smith@example.com", 21) && is(&x, "\"joe smith\"@example.com"));
  x.len = 0;
  /* the last @ separates the domain */
  CHECK(quote_addr(&x, "a@b@c", 5) && is(&x, "\"a@b\"@c"));
  x.len = 0;
  CHECK(quote_addr(&x, "postmaster", 10) && is(&x, "postmaster"));
  x.len = 0;
  CHECK(quote_addr(&x, "", 0) && x.len == 0 && x.s);
  x.len = 0;
  CHECK(quote_addr(&x, "@host", 5) && is(&x, "\"\"@host"));
  sa_free(&x);
}

/* an envelope address from QMTP or QMQP may hold CR and LF anywhere: the
 * output must stay one header line (Return-Path, To of a bounce) */
TEST(quote_addr_never_breaks_a_line)
{
  sa x = SA_ZERO;
  CHECK(quote_addr(&x, "a@b.example\nBcc: v@x.example", 28) && !memchr(x.s, '\n', x.len));
  CHECK(is(&x, "\"a@b.example_Bcc: v\"@x.example"));
  x.len = 0;
  CHECK(quote_addr(&x, "a@b\r\nX-Evil: 1", 14) && !memchr(x.s, '\n', x.len) && !memchr(x.s, '\r', x.len));
  CHECK(is(&x, "a@\"b__X-Evil: 1\""));
  sa_free(&x);
}

/* a 10 MB local part full of characters that need escaping */
TEST(quote_huge)
{
  size_t n = 10 * 1024 * 1024, i;
  char *s = malloc(n);
  sa x = SA_ZERO;
  CHECK(s != 0);
  if (!s) return;
  for (i = 0; i < n; ++i) s[i] = (i & 1) ? '"' : 'a';
  CHECK(quote_cat(&x, s, n));
  CHECK(x.len == n + n / 2 + 2);
  CHECK(x.s[0] == '"' && x.s[x.len - 1] == '"' && x.s[2] == '\\');
  sa_free(&x);
  free(s);
}

/* the domain reads back as itself: dot-atoms and plain literals as they
 * are, anything else quoted (issue 10, defect 7) */
TEST(quote_addr_domain_from_a_quoted_string)
{
  sa x = SA_ZERO;
  CHECK(quote_addr(&x, "x@a, evil@attacker.example", 26) && is(&x, "\"x@a, evil\"@attacker.example"));
  x.len = 0;
  CHECK(quote_domain(&x, "a, evil@attacker.example", 24) && is(&x, "\"a, evil@attacker.example\""));
  x.len = 0;
  CHECK(quote_domain(&x, "[127.0.0.1]", 11) && is(&x, "[127.0.0.1]"));
  x.len = 0;
  CHECK(quote_domain(&x, "[IPv6:::1]", 10) && is(&x, "[IPv6:::1]"));
  x.len = 0;
  CHECK(quote_domain(&x, "[a]b]", 5) && is(&x, "\"[a]b]\""));
  x.len = 0;
  CHECK(quote_domain(&x, "b\"c\\", 4) && is(&x, "\"b\\\"c\\\\\""));
  x.len = 0;
  CHECK(quote_domain(&x, "example.com", 11) && is(&x, "example.com"));
  x.len = 0;
  CHECK(quote_domain(&x, "", 0) && x.len == 0);
  x.len = 0;
  CHECK(quote_domain(&x, "b..c", 4) && is(&x, "\"b..c\""));
  x.len = 0;
  CHECK(quote_domain(&x, "b.", 2) && is(&x, "\"b.\""));
  sa_free(&x);
}
