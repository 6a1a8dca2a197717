/* utf8 - well-formed UTF-8 (RFC 3629): utf8_valid says whether s[0..n)
 * is well formed (no overlong forms, no surrogates, nothing past U+10FFFF,
 * no truncated sequence); utf8_ascii whether it is 7-bit. Both return 1
 * or 0 and keep no state. */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

int utf8_valid(const char *s, size_t n);
int utf8_ascii(const char *s, size_t n);

#endif
