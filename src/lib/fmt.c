#include <string.h>

#include "fmt.h"

size_t fmt_ulong(char *s, unsigned long u)
{
  size_t len = 1;
  unsigned long q = u;

  while (q > 9) { ++len; q /= 10; }
  if (s) {
    s += len;
    do { *--s = (char)('0' + u % 10); u /= 10; } while (u);
  }
  return len;
}

/* fmt_ulong0 - decimal, zero-padded on the left to at least width digits */
size_t fmt_ulong0(char *s, unsigned long u, size_t width)
{
  size_t len = fmt_ulong(0, u);
  size_t i;

  if (len >= width) return fmt_ulong(s, u);
  if (s) {
    for (i = 0; i < width - len; ++i) s[i] = '0';
    fmt_ulong(s + width - len, u);
  }
  return width;
}

size_t fmt_xlong(char *s, unsigned long u)
{
  size_t len = 1;
  unsigned long q = u;

  while (q > 15) { ++len; q /= 16; }
  if (s) {
    s += len;
    do { *--s = "0123456789abcdef"[u & 15]; u >>= 4; } while (u);
  }
  return len;
}

size_t fmt_str(char *s, const char *t)
{
  size_t n = strlen(t);
  if (s) memcpy(s, t, n);
  return n;
}
