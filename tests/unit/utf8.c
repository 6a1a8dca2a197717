#include <string.h>

#include "harness.h"
#include "utf8.h"

#define V(s) utf8_valid(s, sizeof s - 1)

TEST(utf8_wellformed)
{
  CHECK(V(""));
  CHECK(V("plain ascii"));
  CHECK(V("j\xc3\xb6rg"));                 /* ö */
  CHECK(V("\xe2\x82\xac"));                /* € */
  CHECK(V("\xf0\x9f\x93\xa7"));            /* U+1F4E7 */
  CHECK(V("\xf4\x8f\xbf\xbf"));            /* U+10FFFF */
  CHECK(V("\xed\x9f\xbf"));                /* U+D7FF */
}

TEST(utf8_malformed)
{
  CHECK(!V("\x80"));                       /* lone continuation */
  CHECK(!V("\xc3"));                       /* truncated */
  CHECK(!V("\xe2\x82"));
  CHECK(!V("\xc0\xaf"));                   /* overlong '/' */
  CHECK(!V("\xe0\x80\xaf"));
  CHECK(!V("\xf0\x80\x80\xaf"));
  CHECK(!V("\xed\xa0\x80"));               /* surrogate D800 */
  CHECK(!V("\xf4\x90\x80\x80"));           /* past U+10FFFF */
  CHECK(!V("\xf5\x80\x80\x80"));
  CHECK(!V("\xff"));
  CHECK(!V("a\xc3(b"));                    /* bad continuation */
}

TEST(utf8_ascii_only)
{
  CHECK(utf8_ascii("abc", 3));
  CHECK(utf8_ascii("", 0));
  CHECK(!utf8_ascii("a\xc3\xb6", 3));
  CHECK(!utf8_ascii("\x80", 1));
}
