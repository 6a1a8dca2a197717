/* unit tests for src/smtpd/envaddr */
#include <string.h>

#include "harness.h"
#include "envaddr.h"

TEST(envaddr_refuses_line_ends_and_nul)
{
  CHECK(envaddr_bad("user@example.org", 16) == 0);
  CHECK(envaddr_bad("", 0) == 0);
  CHECK(envaddr_bad("\"a b\"@x\x80\xff", 9) == 0);   /* 8-bit is not its business */
  CHECK(envaddr_bad("u\r@example.org", 14) != 0);
  CHECK(strstr(envaddr_bad("u\r@example.org", 14), "CR"));
  CHECK(strstr(envaddr_bad("u@example.org\n", 14), "LF"));
  CHECK(strstr(envaddr_bad("u\0@example.org", 14), "NUL"));
  CHECK(envaddr_bad("\r", 1) != 0);
  CHECK(envaddr_bad("ab\r", 2) == 0);                 /* only s[0..n) counts */
}
