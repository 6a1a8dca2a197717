/* unit tests for src/lib/base64 */
#include <string.h>

#include "harness.h"
#include "base64.h"

static int dec(const char *s, const char *want, size_t wantlen)
{
  char out[64];
  size_t n = 12345;
  if (!base64_decode(out, &n, s, strlen(s))) return 0;
  return n == wantlen && !memcmp(out, want, n);
}

static int bad(const char *s)
{
  char out[64];
  size_t n;
  return !base64_decode(out, &n, s, strlen(s));
}

TEST(base64_decode_good)
{
  CHECK(dec("", "", 0));
  CHECK(dec("Zg==", "f", 1));
  CHECK(dec("Zm8=", "fo", 2));
  CHECK(dec("Zm9v", "foo", 3));
  CHECK(dec("Zm9vYg==", "foob", 4));
  CHECK(dec("Zm9vYmE=", "fooba", 5));
  CHECK(dec("Zm9vYmFy", "foobar", 6));
  CHECK(dec("AHRlc3QAcGFzcw==", "\0test\0pass", 10));
  CHECK(dec("+/+/", "\xfb\xff\xbf", 3));
}

TEST(base64_decode_bad)
{
  CHECK(bad("Zg="));          /* not a multiple of 4 */
  CHECK(bad("Z"));
  CHECK(bad("Zg=a"));         /* padding in the middle */
  CHECK(bad("Z==="));
  CHECK(bad("===="));
  CHECK(bad("Zg==Zg=="));     /* padding before the end */
  CHECK(bad("Zh=="));         /* stray bits under the padding */
  CHECK(bad("Zm9=") );
  CHECK(bad("Zm9v\r\n"));
  CHECK(bad("Zm 9"));
  CHECK(bad("Zm9-"));         /* the URL alphabet is not base64 here */
}

TEST(base64_encode_sizes)
{
  char out[16];
  CHECK(base64_encode(out, sizeof out, "foobar", 6) == 8 && !memcmp(out, "Zm9vYmFy", 8));
  CHECK(base64_encode(out, sizeof out, "fooba", 5) == 8 && !memcmp(out, "Zm9vYmE=", 8));
  CHECK(base64_encode(out, sizeof out, "f", 1) == 4 && !memcmp(out, "Zg==", 4));
  CHECK(base64_encode(out, 8, "foobar", 6) == 8);     /* exactly fits */
  CHECK(base64_encode(out, 7, "foobar", 6) == 0);
  CHECK(base64_encode(out, 8, "foobarx", 7) == 0);
  CHECK(base64_encode(out, 4, "fo", 2) == 4);
  CHECK(base64_encode(out, 3, "f", 1) == 0);
  CHECK(base64_encode(out, sizeof out, "", 0) == 0);
  CHECK(base64_encode(out, (size_t)-1, "ab", 2) == 4);
}
