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

/* the mbox form pads the day with a space, as asctime(3) does */
TEST(date822_asctime_and_months)
{
  sa d = SA_ZERO;
  CHECK(date822_asctime(&d, 820631134));   /* 1996-01-03 01:05:34 UTC */
  CHECK(d.len == 24 && memcmp(d.s, "Wed Jan  3 01:05:34 1996", 24) == 0);
  d.len = 0;
  CHECK(date822_asctime(&d, 1795256818));
  CHECK(d.len == 24 && memcmp(d.s, "Sat Nov 21 10:26:58 2026", 24) == 0);
  sa_free(&d);
  CHECK(strcmp(date822_month(0), "Jan") == 0 && strcmp(date822_month(11), "Dec") == 0);
  CHECK(strcmp(date822_month(12), "Jan") == 0 && strcmp(date822_month(-1), "Jan") == 0);
}
