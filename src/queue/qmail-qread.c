/* qmail-qread - list the queued messages and their recipients.
 * Reads conf-home/queue, which only root and qmails may read: info/,
 * local/ and remote/ for preprocessed messages, todo/ for messages that
 * qmail-send has not taken in yet. The listing format is qmail's, so
 * scripts that parse qmail's mailq output keep working. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "open.h"
#include "sa.h"
#include "say.h"
#include "auto.h"
#include "date822.h"
#include "qfn.h"
#include "qids.h"

#define FATAL "qmail-qread: fatal: "
#define WARNING "qmail-qread: warning: "

static char outbuf[BIO_SIZE];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);
static int flagtrouble;

static noreturn void die_nomem(void) { die(111, FATAL, "out of memory\n", NULL); }
static noreturn void die_write(void) { die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL); }
static noreturn void die_dir(const char *what, const char *fn)
{
  die(111, FATAL, "unable to ", what, " ", fn, ": ", say_errno(), "\n", NULL);
}

/* trouble - a message that could not be read; listing goes on */
static void trouble(unsigned long id, const char *fn)
{
  char num[FMT_ULONG];
  num[fmt_ulong(num, id)] = 0;
  bio_flush(&out);
  say(2, WARNING, "trouble with #", num, ": ", fn, ": ", say_errno(), "\n", NULL);
  flagtrouble = 1;
}

/* readids - the message ids in directory dir, sorted; dies on trouble */
static void readids(qids *l, const char *dir)
{
  if (qids_read(l, dir)) return;
  if (errno == ENOMEM || errno == ERANGE) die_nomem();
  die_dir("read", dir);
}

/* slurp - the whole of fn into buf, and its status; 1 read, 0 missing,
 * -1 error (errno set) */
static int slurp(const char *fn, sa *buf, struct stat *st)
{
  char rbuf[4096];
  bio b;
  int fd, r, e;

  buf->len = 0;
  fd = open_read(fn);
  if (fd == -1) return errno == ENOENT ? 0 : -1;
  if (fstat(fd, st) == -1) goto fail;
  bio_init(&b, fd, rbuf, sizeof rbuf);
  for (;;) {
    r = bio_getln(&b, buf, 0, 0);
    if (r == -1) goto fail;
    if (r == 0) break;
  }
  close(fd);
  return 1;
fail:
  e = errno;
  close(fd);
  errno = e;
  return -1;
}

/* outsafe - text from the queue, with unprintable bytes shown as _ */
static void outsafe(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) {
    char c = (s[i] >= 32 && s[i] <= 126) ? s[i] : '_';
    if (!bio_put(&out, &c, 1)) die_write();
  }
}

static void outs(const char *s) { if (!bio_puts(&out, s)) die_write(); }

/* putstats - "D Mon YYYY HH:MM:SS GMT  #id  size  <sender> " and a note */
static void putstats(time_t t, unsigned long id, unsigned long size,
                     const char *sender, size_t slen, const char *note)
{
  char s[8 * FMT_ULONG + 32];
  size_t n = 0;
  struct tm tm;

  if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
  n += fmt_ulong(s + n, (unsigned long)tm.tm_mday);
  s[n++] = ' ';
  n += fmt_str(s + n, date822_month(tm.tm_mon));
  s[n++] = ' ';
  n += fmt_ulong(s + n, (unsigned long)tm.tm_year + 1900UL);
  s[n++] = ' ';
  n += date822_hms(s + n, &tm);
  n += fmt_str(s + n, " GMT  #");
  n += fmt_ulong(s + n, id);
  n += fmt_str(s + n, "  ");
  n += fmt_ulong(s + n, size);
  n += fmt_str(s + n, "  <");
  outsafe(s, n);
  outsafe(sender, slen);
  outs("> ");
  outs(note);
  outs("\n");
}

/* record - the next NUL-terminated record of buf at *pos; 0 at the end
 * (a record without its NUL is not complete and does not count) */
static int record(const sa *buf, size_t *pos, const char **r, size_t *len)
{
  size_t i;
  for (i = *pos; i < buf->len; ++i)
    if (!buf->s[i]) {
      *r = buf->s + *pos;
      *len = i - *pos;
      *pos = i + 1;
      return 1;
    }
  return 0;
}

static sa info = SA_ZERO;
static sa rcpts = SA_ZERO;
static sa todo = SA_ZERO;
/* which messages have a bounce/ file, and a local/ and remote/ list in
 * the split subdirectory being listed: one readdir each instead of a
 * failed open per message */
static qids bounceids = QIDS_ZERO;
static qids chanids[2] = { QIDS_ZERO, QIDS_ZERO };
static int chanread;

/* messsize - the size of mess/N/id, or -1 (warned) */
static int messsize(unsigned long id, unsigned long *size)
{
  char fn[QFN_SIZE];
  struct stat st;

  qfn_fmt(fn, "mess", id, 1);
  if (stat(fn, &st) == -1) { trouble(id, fn); return -1; }
  *size = (unsigned long)st.st_size;
  return 0;
}

/* show_info - a preprocessed message: 1 shown, 0 gone, -1 trouble */
static int show_info(unsigned long id)
{
  static const char *const chan[2] = { "local", "remote" };
  char fn[QFN_SIZE];
  struct stat st;
  unsigned long size;
  const char *r;
  size_t len, pos;
  int c, x, bouncing;

  qfn_fmt(fn, "info", id, 1);
  x = slurp(fn, &info, &st);
  if (x == 0) return 0;  /* delivered since the directory was read */
  if (x == -1) { trouble(id, fn); return -1; }
  pos = 0;
  if (!record(&info, &pos, &r, &len) || r[0] != 'F') {
    errno = EINVAL;
    trouble(id, fn);
    return -1;
  }
  if (messsize(id, &size) == -1) return -1;
  bouncing = qids_has(&bounceids, id);
  putstats(st.st_mtime, id, size, r + 1, len - 1, bouncing ? " bouncing" : "");

  for (c = 0; c < 2; ++c) {
    /* a list made after its directory was read is still looked for */
    if (chanread && !qids_has(&chanids[c], id)) continue;
    qfn_fmt(fn, chan[c], id, 1);
    x = slurp(fn, &rcpts, &st);
    if (x == 0) continue;
    if (x == -1) { trouble(id, fn); continue; }
    pos = 0;
    while (record(&rcpts, &pos, &r, &len)) {
      if (!len || (r[0] != 'T' && r[0] != 'D')) continue;
      if (r[0] == 'D') outs("  done");
      outs("\t");
      outs(chan[c]);
      outs("\t");
      outsafe(r + 1, len - 1);
      outs("\n");
    }
  }
  return 1;
}

/* show_todo - a message qmail-send has not preprocessed yet; the envelope
 * in todo/id is u, p, F, T... records ending with an empty one.
 * 1 shown, 0 todo/id is gone, -1 trouble */
static int show_todo(unsigned long id)
{
  char fn[QFN_SIZE];
  struct stat st;
  unsigned long size;
  const char *r, *sender = 0;
  size_t len, slen = 0, pos, first;
  int x;

  qfn_fmt(fn, "todo", id, 0);
  x = slurp(fn, &todo, &st);
  if (x == 0) return 0;
  if (x == -1) { trouble(id, fn); return -1; }
  pos = 0;
  while (record(&todo, &pos, &r, &len) && len)
    if (r[0] == 'F') { sender = r + 1; slen = len - 1; break; }
  if (!sender) { errno = EINVAL; trouble(id, fn); return -1; }
  first = pos;
  if (messsize(id, &size) == -1) return -1;
  putstats(st.st_mtime, id, size, sender, slen, " not yet preprocessed");
  pos = first;
  while (record(&todo, &pos, &r, &len) && len) {
    if (r[0] != 'T') continue;
    outs("\ttodo\t");
    outsafe(r + 1, len - 1);
    outs("\n");
  }
  return 1;
}

int main(void)
{
  qids todoids = QIDS_ZERO;
  qids infoids = QIDS_ZERO;
  char dir[QFN_SIZE];
  unsigned long i;
  size_t j;
  int c;

  if (chdir(auto_home) == -1) die_dir("chdir to", auto_home);
  if (chdir("queue") == -1) die_dir("chdir to", "queue");

  /* todo first: a message still there is not fully preprocessed, even if
   * its info file exists already */
  readids(&todoids, "todo");
  readids(&bounceids, "bounce");
  for (i = 0; i < auto_split; ++i) {
    j = fmt_str(dir, "info/");
    dir[j + fmt_ulong(dir + j, i)] = 0;
    readids(&infoids, dir);
    /* a message not in todo/ when it was read had its lists by then;
     * one that loses a list meanwhile is done there */
    for (c = 0; c < 2; ++c) {
      j = fmt_str(dir, c ? "remote/" : "local/");
      dir[j + fmt_ulong(dir + j, i)] = 0;
      readids(&chanids[c], dir);
    }
    chanread = 1;
    for (j = 0; j < infoids.len; ++j)
      if (!qids_has(&todoids, infoids.x[j])) show_info(infoids.x[j]);
  }
  chanread = 0;
  /* a todo file that vanished meanwhile was preprocessed: show its info */
  for (j = 0; j < todoids.len; ++j)
    if (show_todo(todoids.x[j]) == 0) show_info(todoids.x[j]);

  if (!bio_flush(&out)) die_write();
  return flagtrouble ? 111 : 0;
}
