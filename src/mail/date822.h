/* date822 - RFC 5322 dates.
 * date822_fmt appends "Sat, 21 Nov 2026 10:26:58 +0000" (the local time
 * with its numeric zone) for t to out. Returns 1, or 0 with errno set. */
#ifndef DATE822_H
#define DATE822_H

#include <time.h>

#include "sa.h"

int date822_fmt(sa *out, time_t t);
int date822_fmt_utc(sa *out, time_t t);  /* always +0000, as qmail writes */

#endif
