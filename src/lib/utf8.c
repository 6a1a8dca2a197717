#include "utf8.h"

int utf8_ascii(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) if ((unsigned char)s[i] >= 0x80) return 0;
  return 1;
}

int utf8_valid(const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, k, len;
  unsigned long c;

  while (i < n) {
    c = p[i];
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; c &= 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; c &= 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; c &= 0x07; }
    else return 0;                       /* a continuation byte, c0, c1, f5.. */
    if (n - i < len) return 0;
    for (k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return 0;
      c = (c << 6) | (p[i + k] & 0x3f);
    }
    if (len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) return 0;
    if (len == 4 && (c < 0x10000 || c > 0x10ffff)) return 0;
    i += len;
  }
  return 1;
}
