/* qmail-send-log - the activity record on fd 0 (qmail-log(5)). Each line
 * goes out in one write, so a logger never sees half a line, and a write
 * that fails is dropped: delivery does not wait for the logger to recover. */
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "logsafe.h"
#include "qmail-send.h"

static sa line = SA_ZERO;

/* log_line - the piece after LOG_SAFE is data, whatever it holds */
void log_line(const char *s, ...)
{
  va_list ap;
  int safe = 0, ok = 1;

  line.len = 0;
  va_start(ap, s);
  for (; s; s = va_arg(ap, const char *)) {
    if (safe) { ok = ok && logsafe_cat(&line, s, strlen(s)); safe = 0; }
    else if (!strcmp(s, LOG_SAFE)) safe = 1;
    else ok = ok && sa_cats(&line, s);
  }
  va_end(ap);
  if (!ok) {
    static const char oom[] = "alert: out of memory, sleeping...\n";
    bio_writeall(0, oom, sizeof oom - 1, 0);
    return;
  }
  bio_writeall(0, line.s, line.len, 0);
}

void log_nomem(void)
{
  log_line("alert: out of memory, sleeping...\n", NULL);
  sleep(10);
}

void log_pausedir(const char *dir)
{
  log_line("alert: unable to opendir ", dir, ", sleeping...\n", NULL);
  sleep(10);
}

const char *log_ul(char *buf, unsigned long u)
{
  buf[fmt_ulong(buf, u)] = 0;
  return buf;
}
