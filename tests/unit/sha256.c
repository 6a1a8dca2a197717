#include <string.h>

#include "harness.h"
#include "sha256.h"

static void hex(const unsigned char *d, char *out)
{
  static const char x[] = "0123456789abcdef";
  int i;
  for (i = 0; i < SHA256_LEN; ++i) { out[2 * i] = x[d[i] >> 4]; out[2 * i + 1] = x[d[i] & 15]; }
  out[64] = 0;
}

static int digest_is(const void *s, size_t n, const char *want)
{
  sha256 c;
  unsigned char d[SHA256_LEN];
  char h[65];
  sha256_init(&c);
  sha256_update(&c, s, n);
  sha256_final(&c, d);
  hex(d, h);
  return !strcmp(h, want);
}

/* FIPS 180-4 examples, and the padding edges at 55, 56 and 64 bytes */
TEST(sha256_vectors)
{
  char x[64];
  CHECK(digest_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK(digest_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  memset(x, 'x', sizeof x);
  CHECK(digest_is(x, 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"));
  CHECK(digest_is(x, 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"));
  CHECK(digest_is(x, 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"));
}

/* a million a's fed in uneven pieces gives the one-shot digest */
TEST(sha256_pieces)
{
  char a[1024];
  sha256 c;
  unsigned char d[SHA256_LEN];
  char h[65];
  size_t done = 0, step = 1;
  memset(a, 'a', sizeof a);
  sha256_init(&c);
  while (done < 1000000) {
    size_t n = step;
    if (n > 1000000 - done) n = 1000000 - done;
    sha256_update(&c, a, n);
    done += n;
    step = step % 997 + 7;
  }
  sha256_final(&c, d);
  hex(d, h);
  CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

static int hmac_is(const void *k, size_t kl, const char *m, const char *want)
{
  unsigned char d[SHA256_LEN];
  char h[65];
  hmac_sha256(k, kl, m, strlen(m), d);
  hex(d, h);
  return !strcmp(h, want);
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than a block) */
TEST(hmac_sha256_vectors)
{
  unsigned char k[131];
  memset(k, 0x0b, 20);
  CHECK(hmac_is(k, 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
  CHECK(hmac_is("Jefe", 4, "what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
  memset(k, 0xaa, sizeof k);
  CHECK(hmac_is(k, sizeof k, "Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
}
