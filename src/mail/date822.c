#include <time.h>

#include "date822.h"
#include "fmt.h"

static const char days[] = "SunMonTueWedThuFriSat";
static const char months[12][4] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

const char *date822_month(int mon)
{
  return months[mon >= 0 && mon < 12 ? mon : 0];
}

size_t date822_hms(char *s, const struct tm *tm)
{
  size_t n = fmt_ulong0(s, (unsigned long)tm->tm_hour, 2);
  s[n++] = ':';
  n += fmt_ulong0(s + n, (unsigned long)tm->tm_min, 2);
  s[n++] = ':';
  n += fmt_ulong0(s + n, (unsigned long)tm->tm_sec, 2);
  return n;
}

/* fmt - append the date of tm with the zone offset off (seconds) */
static int fmt(sa *out, const struct tm *tm, long off)
{
  char buf[64];
  size_t n = 0;
  unsigned long a;

  buf[n++] = days[tm->tm_wday * 3];
  buf[n++] = days[tm->tm_wday * 3 + 1];
  buf[n++] = days[tm->tm_wday * 3 + 2];
  buf[n++] = ','; buf[n++] = ' ';
  n += fmt_ulong(buf + n, (unsigned long)tm->tm_mday);
  buf[n++] = ' ';
  n += fmt_str(buf + n, date822_month(tm->tm_mon));
  buf[n++] = ' ';
  n += fmt_ulong(buf + n, (unsigned long)tm->tm_year + 1900);
  buf[n++] = ' ';
  n += date822_hms(buf + n, tm);
  buf[n++] = ' ';
  buf[n++] = off < 0 ? '-' : '+';
  a = (unsigned long)(off < 0 ? -off : off) / 60;
  n += fmt_ulong0(buf + n, a / 60 % 100, 2);
  n += fmt_ulong0(buf + n, a % 60, 2);
  return sa_catb(out, buf, n);
}

int date822_fmt(sa *out, time_t t)
{
  struct tm tm;
  if (!localtime_r(&t, &tm)) return 0;
  return fmt(out, &tm, tm.tm_gmtoff);
}

int date822_fmt_utc(sa *out, time_t t)
{
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return 0;
  return fmt(out, &tm, 0);
}

int date822_asctime(sa *out, time_t t)
{
  char buf[64];
  size_t n = 0;
  struct tm tm;

  if (!gmtime_r(&t, &tm)) {   /* past what struct tm holds: the epoch */
    tm.tm_wday = 4; tm.tm_mon = 0; tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0; tm.tm_year = 70;
  }
  buf[n++] = days[tm.tm_wday * 3];
  buf[n++] = days[tm.tm_wday * 3 + 1];
  buf[n++] = days[tm.tm_wday * 3 + 2];
  buf[n++] = ' ';
  n += fmt_str(buf + n, date822_month(tm.tm_mon));
  buf[n++] = ' ';
  if (tm.tm_mday < 10) buf[n++] = ' ';
  n += fmt_ulong(buf + n, (unsigned long)tm.tm_mday);
  buf[n++] = ' ';
  n += date822_hms(buf + n, &tm);
  buf[n++] = ' ';
  n += fmt_ulong(buf + n, (unsigned long)tm.tm_year + 1900UL);
  return sa_catb(out, buf, n);
}
