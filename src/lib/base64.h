/* base64 - the base64 encoding of RFC 4648 section 4 (with '=' padding),
 * as SMTP AUTH (RFC 4954) uses it. base64_decode is strict: only the
 * alphabet, padding only at the end, the length a multiple of 4, and no
 * stray bits in the last group; anything else returns 0. Output goes into
 * caller storage; neither function allocates, and no size can overflow:
 * decoding shrinks, and encoding is refused when 4*ceil(n/3) exceeds max. */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/* base64_decode - decode s[0..n) into out (room for n/4*3 bytes); 1 and
 * *outlen set, or 0 for malformed input */
int base64_decode(char *out, size_t *outlen, const char *s, size_t n);

/* base64_encode - encode s[0..n) into out (room for max bytes); the
 * encoded length, or 0 when it would not fit (or n is 0) */
size_t base64_encode(char *out, size_t max, const char *s, size_t n);

#endif
