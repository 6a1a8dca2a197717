/* date822 - the dates mail carries, and the one table of day and month names.
 * date822_fmt appends "Sat, 21 Nov 2026 10:26:58 +0000" (the local time
 * with its numeric zone) for t to out; date822_asctime appends the
 * asctime(3) form of t in UTC, "Sat Jan  3 01:05:34 1996" (the day padded
 * with a space, no newline), as mbox From_ lines carry it. They return 1,
 * or 0 with errno set. date822_month gives "Jan".."Dec" for a tm_mon of
 * 0..11 ("Jan" for anything else); date822_hms writes "HH:MM:SS" of tm to
 * s (no NUL) and returns 8. */
#ifndef DATE822_H
#define DATE822_H

#include <time.h>

#include "sa.h"

int date822_fmt(sa *out, time_t t);
int date822_fmt_utc(sa *out, time_t t);  /* always +0000, as qmail writes */
int date822_asctime(sa *out, time_t t);
const char *date822_month(int mon);
size_t date822_hms(char *s, const struct tm *tm);

#endif
