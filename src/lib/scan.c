#include <string.h>

#include "scan.h"

/* scan_ulongn - decimal digits among the first n bytes of s */
size_t scan_ulongn(const char *s, size_t n, unsigned long *u)
{
  unsigned long r = 0;
  size_t i;

  for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (__builtin_mul_overflow(r, 10UL, &r)) return 0;
    if (__builtin_add_overflow(r, (unsigned long)(s[i] - '0'), &r)) return 0;
  }
  if (i) *u = r;
  return i;
}

size_t scan_ulong(const char *s, unsigned long *u)
{
  return scan_ulongn(s, strlen(s), u);
}

size_t scan_8long(const char *s, unsigned long *u)
{
  unsigned long r = 0;
  size_t i;

  for (i = 0; s[i] >= '0' && s[i] <= '7'; ++i) {
    if (r >> (sizeof r * 8 - 3)) return 0;
    r = (r << 3) + (unsigned long)(s[i] - '0');
  }
  if (i) *u = r;
  return i;
}
