/* maildir2mbox - move the messages of $MAILDIR to the end of the mbox $MAIL.
 * The old mbox and the messages are copied into $MAILTMP, which is synced
 * and renamed over $MAIL under a lock on $MAIL; only then are the messages
 * removed from the maildir, so a crash can duplicate mail but never lose
 * it. Messages go in order of arrival (mtime, then name). Each gets a
 * "From sender date" line taken from its Return-Path, and body lines that
 * look like a From line after any '>' get one more '>'. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>     /* rename() only: no stdio streams here */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "errtemp.h"
#include "grow.h"
#include "lock.h"
#include "open.h"
#include "sa.h"
#include "say.h"
#include "str.h"
#include "syncdir.h"
#include "mbox.h"

#define FATAL "maildir2mbox: fatal: "
#define WARNING "maildir2mbox: warning: "
#define LINEMAX 65536    /* a longer line is copied in pieces */
#define TMPAGE 129600    /* maildir(5): tmp files unread for 36 hours go */

static const char *maildir;
static const char *mbox;
static const char *mboxtmp;

static noreturn void die_nomem(void) { die(111, FATAL, "out of memory\n", NULL); }
static noreturn void die_env(const char *name) { die(100, FATAL, name, " not set\n", NULL); }
static noreturn void die_sys(const char *what, const char *fn)
{
  die(111, FATAL, "unable to ", what, " ", fn, ": ", say_errno(), "\n", NULL);
}
static noreturn void die_msg(const char *what, const char *fn)
{
  die(111, FATAL, "unable to ", what, " $MAILDIR/", fn, ": ", say_errno(), "\n", NULL);
}
static noreturn void die_writetmp(void) { die_sys("write to", mboxtmp); }

/* the messages found: names (sub/name NUL) in one string, offsets here */
typedef struct msg { time_t t; size_t name; } msg;
static sa names = SA_ZERO;
static msg *msgs;
static size_t nmsgs, amsgs;
static sa path = SA_ZERO;

/* mdpath - "$MAILDIR/name" in path, NUL-terminated */
static const char *mdpath(const char *name)
{
  if (!sa_copys(&path, maildir) || !sa_append(&path, '/') || !sa_cats(&path, name) || !sa_0(&path))
    die_nomem();
  return path.s;
}

/* addmsg - remember one message to move */
static void addmsg(time_t t, const char *sub, const char *name)
{
  msg *n;

  if (!(n = grow(msgs, &amsgs, nmsgs + 1, sizeof *msgs))) die_nomem();
  msgs = n;
  msgs[nmsgs].t = t;
  msgs[nmsgs].name = names.len;
  if (!sa_cats(&names, sub) || !sa_append(&names, '/') || !sa_cats(&names, name) || !sa_0(&names))
    die_nomem();
  ++nmsgs;
}

static int cmpmsg(const void *a, const void *b)
{
  const msg *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return strcmp(names.s + x->name, names.s + y->name);
}

/* scan - every message in sub (new or cur), skipping dot files; with
 * clean, remove instead the files not accessed for 36 hours (tmp) */
static void scan(const char *sub, int clean)
{
  DIR *d;
  struct dirent *e;
  struct stat st;
  time_t now = time(0);
  sa fn = SA_ZERO;

  d = opendir(mdpath(sub));
  if (!d) {
    if (clean) return;
    die_msg("scan", sub);
  }
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (e->d_name[0] == '.') continue;
    if (!sa_copys(&fn, sub) || !sa_append(&fn, '/') || !sa_cats(&fn, e->d_name) || !sa_0(&fn))
      die_nomem();
    if (stat(mdpath(fn.s), &st) == -1) continue;  /* gone meanwhile */
    if (!S_ISREG(st.st_mode)) continue;
    if (clean) { if (now > st.st_atime + TMPAGE) unlink(path.s); }
    else addmsg(st.st_mtime, sub, e->d_name);
  }
  if (errno && !clean) die_msg("read", sub);
  closedir(d);
  sa_free(&fn);
}

/* fromline - the From_ line for a message whose first line is first: the
 * sender from its Return-Path, XXX without one */
static void fromline(sa *out, const sa *first, time_t t)
{
  static const char rp[] = "Return-Path: <";
  size_t rplen = sizeof rp - 1, end = first->len;

  if (end > rplen && !memcmp(first->s, rp, rplen) && first->s[end - 1] == '\n')
    end = byte_rchr(first->s, end, '>');
  else
    end = first->len;
  if (end == first->len || end < rplen) { if (!mbox_fromline(out, "XXX", 3, t)) die_nomem(); }
  else if (!mbox_fromline(out, first->s + rplen, end - rplen, t)) die_nomem();
}

/* append - message m to out; 1 copied, 0 it vanished meanwhile */
static int append(bio *out, const msg *m)
{
  static sa line = SA_ZERO;
  static sa from = SA_ZERO;
  char buf[BIO_SIZE];
  bio in;
  const char *name = names.s + m->name;
  mbox_quoter q = MBOX_QUOTER_ZERO;
  int fd, r, first = 1;

  fd = open_read(mdpath(name));
  if (fd == -1) {
    if (errno == ENOENT) return 0;
    die_msg("read", name);
  }
  bio_init(&in, fd, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&in, &line, '\n', LINEMAX);
    if (r == -1) die_msg("read", name);
    if (first) {
      fromline(&from, &line, m->t);
      if (!bio_put(out, from.s, from.len)) die_writetmp();
      first = 0;
    }
    if (!line.len) break;
    if (!mbox_quote(out, &q, line.s, line.len)) die_writetmp();
    if (r == 0) break;
  }
  /* end the last line, then the blank line that ends the message */
  if (!mbox_quoteend(out, &q)) die_writetmp();
  close(fd);
  return 1;
}

int main(void)
{
  char inbuf[BIO_SIZE], outbuf[BIO_SIZE];
  bio in, out;
  struct stat st;
  int fdlock, fdold, fdnew, bad = 0;
  char *moved;
  size_t i;

  umask(077);
  mbox = getenv("MAIL");
  if (!mbox || !*mbox) die_env("MAIL");
  mboxtmp = getenv("MAILTMP");
  if (!mboxtmp || !*mboxtmp) die_env("MAILTMP");
  maildir = getenv("MAILDIR");
  if (!maildir || !*maildir) die_env("MAILDIR");

  scan("tmp", 1);
  scan("new", 0);
  scan("cur", 0);
  if (!nmsgs) return 0;  /* nothing to move; leave the mbox alone */
  qsort(msgs, nmsgs, sizeof *msgs, cmpmsg);
  moved = calloc(nmsgs, 1);
  if (!moved) die_nomem();

  /* mail readers lock the mbox itself; hold it until the rename */
  fdlock = open_append(mbox);
  if (fdlock == -1 || lock_ex(fdlock) == -1) die_sys("lock", mbox);
  if (fstat(fdlock, &st) == -1) die_sys("stat", mbox);
  fdold = open_read(mbox);
  if (fdold == -1) die_sys("read", mbox);
  fdnew = open_trunc(mboxtmp);
  if (fdnew == -1) die_sys("create", mboxtmp);
  if (fchmod(fdnew, st.st_mode & 0777) == -1) die_sys("chmod", mboxtmp);
  bio_init(&in, fdold, inbuf, sizeof inbuf);
  bio_init(&out, fdnew, outbuf, sizeof outbuf);
  switch (bio_copy(&out, &in)) {
    case -1: die_sys("read", mbox);
    case -2: die_writetmp();
  }
  close(fdold);
  for (i = 0; i < nmsgs; ++i) moved[i] = (char)append(&out, &msgs[i]);

  /* the new mbox is on disk before it replaces the old one */
  if (!bio_flush(&out) || fsync(fdnew) == -1 || close(fdnew) == -1) die_writetmp();
  if (rename(mboxtmp, mbox) == -1)
    die(111, FATAL, "unable to move ", mboxtmp, " to ", mbox, ": ", say_errno(), "\n", NULL);
  /* the new name is on disk before the maildir copies go: a crash between
   * the two may duplicate mail, never lose it */
  if (syncdir_of(mbox) == -1) die_sys("sync the directory of", mbox);
  close(fdlock);

  /* only now may the maildir copies go */
  for (i = 0; i < nmsgs; ++i)
    if (moved[i] && unlink(mdpath(names.s + msgs[i].name)) == -1 && errno != ENOENT) {
      say(2, WARNING, "$MAILDIR/", names.s + msgs[i].name,
          " will be delivered twice; unable to unlink: ", say_errno(), "\n", NULL);
      bad = 1;
    }
  return bad ? 111 : 0;
}
