/* qmail-local-mbox - append a message to an mbox file (mbox(5), mboxrd).
 * The file is locked with flock and with an fcntl lock (mail readers use
 * either), waiting 30 seconds at most; the message gets the From_ line,
 * Return-Path and Delivered-To, >From quoting and a final blank line.
 * On any error a locked regular file is cut back to its old size. The
 * quoting is a small state machine over blocks, so a line of any length
 * costs no memory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "say.h"
#include "sig.h"
#include "qmail-local.h"

static volatile sig_atomic_t alarmed;

static void onalarm(int sig)
{
  (void)sig;
  alarmed = 1;
  alarm(1); /* re-arm: a lock call entered just after the flag was read still ends */
}

static noreturn void die_slowlock(const char *fn)
{
  die(111, "Unable to lock ", fn, ": it has been locked for 30 seconds. (#4.2.1)\n", NULL);
}

/* lockboth - 1 when at least one lock is held. A file system without
 * one kind of lock just goes without it. */
static int lockboth(int fd, const char *fn)
{
  struct flock fl;
  int r, locked = 0;

  alarmed = 0;
  sig_catch(SIGALRM, onalarm);
  alarm(30);
  do r = flock(fd, LOCK_EX); while (r == -1 && errno == EINTR && !alarmed);
  if (r == 0) locked = 1;
  else if (alarmed) die_slowlock(fn);
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  do r = fcntl(fd, F_SETLKW, &fl); while (r == -1 && errno == EINTR && !alarmed);
  if (r == 0) locked = 1;
  else if (alarmed) die_slowlock(fn);
  alarm(0);
  sig_default(SIGALRM);
  return locked;
}

static const char gts[64] =
  ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

/* putgt - n copies of '>' */
static int putgt(bio *out, size_t n)
{
  while (n) {
    size_t k = n < sizeof gts ? n : sizeof gts;
    if (!bio_put(out, gts, k)) return 0;
    n -= k;
  }
  return 1;
}

/* quote state: at the start of a line, '>'s seen and "From " matched so far */
typedef struct qstate { int atstart; size_t ngt; size_t nfrom; char last; } qstate;

/* quoteblock - copy s[0..n) with mboxrd quoting: a line that is >*"From "
 * gets one more '>'. 0 on a write error. */
static int quoteblock(bio *out, qstate *q, const char *s, size_t n)
{
  size_t i = 0;

  while (i < n) {
    if (q->atstart) {
      char c = s[i];
      if (!q->nfrom && c == '>') { ++q->ngt; ++i; continue; }
      if (c == "From "[q->nfrom]) {
        ++i;
        if (++q->nfrom < 5) continue;
        if (!putgt(out, q->ngt + 1) || !bio_put(out, "From ", 5)) return 0;
        q->last = ' ';
      } else {
        /* not a From_ line: give back what was held */
        if (!putgt(out, q->ngt) || !bio_put(out, "From ", q->nfrom)) return 0;
      }
      q->atstart = 0;
      q->ngt = q->nfrom = 0;
      continue;
    }
    {
      const char *nl = memchr(s + i, '\n', n - i);
      size_t k = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
      if (!bio_put(out, s + i, k)) return 0;
      q->last = s[i + k - 1];
      i += k;
      if (nl) q->atstart = 1;
    }
  }
  return 1;
}

/* quoteend - give back a held line start at EOF; then the blank line */
static int quoteend(bio *out, qstate *q)
{
  if (q->ngt || q->nfrom) {
    if (!putgt(out, q->ngt) || !bio_put(out, "From ", q->nfrom)) return 0;
    q->last = q->nfrom ? "From "[q->nfrom - 1] : '>';
  }
  if (q->last && q->last != '\n' && !bio_put(out, "\n", 1)) return 0;
  return bio_put(out, "\n", 1);
}

/* cutback - the file back to its old size after a failed append */
static void cutback(int fd, off_t pos)
{
  int e = errno;
  if (ftruncate(fd, pos) == 0) fsync(fd);
  errno = e;
}

void ql_mbox(const char *fn, const char *head, size_t hlen)
{
  char inbuf[BIO_SIZE], outbuf[BIO_SIZE];
  bio out;
  qstate q = { 1, 0, 0, 0 };
  struct stat st;
  off_t pos;
  int fd, locked, regular, e;
  ssize_t r;

  ql_rewind();
  fd = open(fn, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd == -1) die(111, "Unable to open ", fn, ": ", say_errno(), ". (#4.2.1)\n", NULL);
  if (fstat(fd, &st) == -1) goto writeerr;
  /* /dev/null and the like cannot be synced or cut back */
  regular = S_ISREG(st.st_mode);
  locked = lockboth(fd, fn);
  pos = lseek(fd, 0, SEEK_END);
  if (regular && pos == -1) goto writeerr;

  bio_init(&out, fd, outbuf, sizeof outbuf);
  if (!bio_put(&out, head, hlen)) goto cut;
  for (;;) {
    r = bio_rawread(0, inbuf, sizeof inbuf, 0);
    if (r == 0) break;
    if (r == -1) {
      e = errno;
      if (locked && regular) cutback(fd, pos);
      close(fd);
      errno = e;
      ql_die_read();
    }
    if (!quoteblock(&out, &q, inbuf, (size_t)r)) goto cut;
  }
  if (!quoteend(&out, &q) || !bio_flush(&out)) goto cut;
  if (regular && fsync(fd) == -1) goto cut;
  if (close(fd) == -1) goto writeerr_closed;
  return;

cut:
  if (locked && regular) cutback(fd, pos);
writeerr:
  e = errno;
  close(fd);
  errno = e;
writeerr_closed:
  die(111, "Unable to write ", fn, ": ", say_errno(), ". (#4.3.0)\n", NULL);
}
