#include <errno.h>
#include <stdlib.h>

#include "grow.h"

void *grow(void *p, size_t *a, size_t n, size_t size)
{
  size_t want, bytes;
  void *t;

  if (p && n <= *a) return p;
  if (!size) size = 1;
  if (__builtin_add_overflow(n, n / 2, &want) || __builtin_add_overflow(want, 16, &want)
      || __builtin_mul_overflow(want, size, &bytes)) {
    want = n ? n : 1;
    if (__builtin_mul_overflow(want, size, &bytes)) { errno = ERANGE; return 0; }
  }
  t = realloc(p, bytes);
  if (!t) { errno = ENOMEM; return 0; }
  *a = want;
  return t;
}
