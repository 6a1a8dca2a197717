/* qmail-local-mbox - append a message to an mbox file (mbox(5), mboxrd).
 * The file is locked with flock and with an fcntl lock (mail readers use
 * either), waiting 30 seconds at most; the message gets the From_ line,
 * Return-Path and Delivered-To, >From quoting and a final blank line.
 * On any error a locked regular file is cut back to its old size. The
 * quoting (mbox.h) is a small state machine over blocks, so a line of any
 * length costs no memory. */
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
#include "mbox.h"
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
  mbox_quoter q = MBOX_QUOTER_ZERO;
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
    if (!mbox_quote(&out, &q, inbuf, (size_t)r)) goto cut;
  }
  if (!mbox_quoteend(&out, &q) || !bio_flush(&out)) goto cut;
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
