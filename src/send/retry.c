#include <limits.h>

#include "retry.h"

unsigned long retry_isqrt(unsigned long x)
{
  unsigned long r = 0, bit = 1UL << (sizeof x * CHAR_BIT - 2);

  while (bit > x) bit >>= 2;
  while (bit) {                    /* digit-by-digit square root */
    if (x >= r + bit) { x -= r + bit; r = (r >> 1) + bit; }
    else r >>= 1;
    bit >>= 2;
  }
  return r;
}

time_t retry_next(time_t birth, time_t now, unsigned long skip)
{
  unsigned long n = 0, sq;
  time_t t;

  if (now > birth) n = retry_isqrt((unsigned long)(now - birth));
  n += skip;
  if (__builtin_mul_overflow(n, n, &sq) || sq > (unsigned long)LONG_MAX)
    return (time_t)LONG_MAX;
  if (__builtin_add_overflow(birth, (time_t)sq, &t)) return (time_t)LONG_MAX;
  return t;
}
