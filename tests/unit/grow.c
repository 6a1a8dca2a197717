#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "grow.h"

TEST(grow_rule_and_keep)
{
  int *x = 0, *t;
  size_t a = 0, i;

  t = grow(x, &a, 0, sizeof *x);
  CHECK(t != 0 && a == 16);
  x = t;
  CHECK(grow(x, &a, 16, sizeof *x) == x && a == 16);   /* room already: untouched */
  for (i = 0; i < 16; ++i) x[i] = (int)i;
  t = grow(x, &a, 17, sizeof *x);
  CHECK(t != 0 && a == 17 + 8 + 16);
  x = t;
  for (i = 0; i < 16; ++i) if (x[i] != (int)i) break;
  CHECK(i == 16);
  free(x);
}

/* an overflowing size fails with ERANGE and leaves the array as it was */
TEST(grow_overflow_edges)
{
  char *x = 0, *t;
  size_t a = 0;

  x = grow(x, &a, 4, 8);
  CHECK(x != 0 && a == 22);
  memcpy(x, "abcd", 4);
  errno = 0;
  CHECK(grow(x, &a, SIZE_MAX / 8 + 1, 8) == 0);
  CHECK(errno == ERANGE && a == 22 && memcmp(x, "abcd", 4) == 0);
  errno = 0;
  CHECK(grow(x, &a, SIZE_MAX, 2) == 0);
  CHECK(errno == ERANGE && a == 22);
  /* the slack would overflow but n itself fits: asks for exactly n, which
   * no allocator grants */
  errno = 0;
  t = grow(x, &a, SIZE_MAX - 8, 1);
  CHECK(t == 0 && errno == ENOMEM && a == 22 && memcmp(x, "abcd", 4) == 0);
  free(x);
}
