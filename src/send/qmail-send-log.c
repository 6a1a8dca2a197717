/* qmail-send-log - the activity record on fd 0 (qmail-log(5)). Each line
 * goes out in one write, so a logger never sees half a line, and a write
 * that fails is dropped: delivery does not wait for the logger to recover. */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "logsafe.h"
#include "qmail-send.h"

const char LOGSAFE[] = "";

static sa line = SA_ZERO;

void qlog(const char *s, ...)
{
  va_list ap;
  int safe = 0, ok = 1;

  line.len = 0;
  va_start(ap, s);
  for (; s; s = va_arg(ap, const char *)) {
    if (s == LOGSAFE) { safe = 1; continue; }
    if (safe) ok = ok && logsafe_cat(&line, s, strlen(s));
    else ok = ok && sa_cats(&line, s);
    safe = 0;
  }
  va_end(ap);
  if (!ok) {
    static const char oom[] = "alert: out of memory, sleeping...\n";
    bio_writeall(0, oom, sizeof oom - 1, 0);
    return;
  }
  bio_writeall(0, line.s, line.len, 0);
}

void nomem(void)
{
  qlog("alert: out of memory, sleeping...\n", NULL);
  sleep(10);
}

void pausedir(const char *dir)
{
  qlog("alert: unable to opendir ", dir, ", sleeping...\n", NULL);
  sleep(10);
}

long msnow(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ulstr(char *buf, unsigned long u)
{
  buf[fmt_ulong(buf, u)] = 0;
  return buf;
}
