/* sha256 - the SHA-256 hash (FIPS 180-4) and HMAC-SHA-256 (RFC 2104).
 * sha256_init, then sha256_update any number of times, then sha256_final
 * writes the 32-byte digest. hmac_sha256 does the whole keyed hash in one
 * call, for a key of any length. Nothing allocates or fails; inputs are
 * bounded only by the 2^61-byte limit of the hash itself. */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

typedef struct sha256 {
  uint32_t h[8];
  uint64_t bytes;        /* bytes hashed so far */
  unsigned char buf[64]; /* the partial block */
  size_t n;              /* bytes in buf */
} sha256;

void sha256_init(sha256 *c);
void sha256_update(sha256 *c, const void *s, size_t n);
void sha256_final(sha256 *c, unsigned char out[SHA256_LEN]);

void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                 unsigned char out[SHA256_LEN]);

#endif
