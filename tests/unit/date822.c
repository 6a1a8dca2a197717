#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "date822.h"

TEST(date822_utc)
{
  sa d = SA_ZERO;
  CHECK(date822_fmt_utc(&d, 1795256818));
  CHECK(d.len == 31);
  CHECK(memcmp(d.s, "Sat, 21 Nov 2026 10:26:58 +0000", 31) == 0);
  d.len = 0;
  CHECK(date822_fmt_utc(&d, 0));
  CHECK(memcmp(d.s, "Thu, 1 Jan 1970 00:00:00 +0000", 30) == 0);
  sa_free(&d);
}
