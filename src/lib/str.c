#include <string.h>

#include "str.h"

int str_starts(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_equal(const char *a, const char *b) { return strcmp(a, b) == 0; }

size_t byte_chr(const char *s, size_t n, int c)
{
  const char *p = memchr(s, c, n);
  return p ? (size_t)(p - s) : n;
}

size_t byte_rchr(const char *s, size_t n, int c)
{
  size_t i = n;
  while (i--) if (s[i] == (char)c) return i;
  return n;
}

static unsigned char lower(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int case_diffb(const char *a, size_t n, const char *b)
{
  size_t i;
  for (i = 0; i < n; ++i) {
    unsigned char x = lower((unsigned char)a[i]), y = lower((unsigned char)b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

int case_diffs(const char *a, const char *b)
{
  for (;; ++a, ++b) {
    unsigned char x = lower((unsigned char)*a), y = lower((unsigned char)*b);
    if (x != y) return x < y ? -1 : 1;
    if (!x) return 0;
  }
}

void case_lowerb(char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) s[i] = (char)lower((unsigned char)s[i]);
}
