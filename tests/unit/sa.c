#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "sa.h"

TEST(sa_cat_and_copy)
{
  sa x = SA_ZERO;
  CHECK(sa_copys(&x, "hello"));
  CHECK(sa_cats(&x, ", world"));
  CHECK(sa_append(&x, '!'));
  CHECK(x.len == 13 && memcmp(x.s, "hello, world!", 13) == 0);
  CHECK(sa_catulong(&x, 18446744073709551615UL));
  CHECK(x.len == 33);
  CHECK(sa_starts(&x, "hello"));
  sa_free(&x);
  CHECK(x.s == 0 && x.len == 0);
}

/* CVE-2005-1513: growth near SIZE_MAX must fail cleanly, not wrap */
TEST(sa_overflow_edges)
{
  sa x = SA_ZERO;
  size_t r;
  CHECK(sa_copys(&x, "abc"));
  errno = 0;
  CHECK(!sa_readyplus(&x, SIZE_MAX));
  CHECK(errno == ERANGE);
  CHECK(!sa_readyplus(&x, SIZE_MAX - 2));
  CHECK(x.len == 3 && memcmp(x.s, "abc", 3) == 0);
  errno = 0;
  CHECK(!sa_ready(&x, SIZE_MAX));
  CHECK(errno == ENOMEM);
  CHECK(!sa_catb(&x, "x", SIZE_MAX));
  CHECK(x.len == 3);
  CHECK(!size_add(&r, SIZE_MAX, 1));
  CHECK(size_add(&r, SIZE_MAX - 1, 1) && r == SIZE_MAX);
  CHECK(!size_mul(&r, SIZE_MAX / 2 + 1, 2));
  CHECK(size_mul(&r, 1u << 20, 1u << 20) && r == (size_t)1 << 40);
  sa_free(&x);
}
