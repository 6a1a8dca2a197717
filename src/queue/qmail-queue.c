/* qmail-queue - put one message into the queue (qmail-queue(8)).
 * Installed setuid qmailq. Reads the message on fd 0 and the envelope on
 * fd 1 (F sender NUL, T recipient NUL ..., NUL) from an untrusted caller,
 * writes mess/N/id and intd/id, links todo/id and pokes lock/trigger.
 * It prints nothing; the exit code is the whole answer: 0 exactly when the
 * message will be delivered. It holds a lock (flock) on the message file
 * from the moment the file exists until it has decided; qmail-send takes
 * no message whose file is locked, so every failure, even after the todo
 * link, removes the files it made and a failed message leaves no trace.
 * doc/queue.md describes the queue states this program walks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "lock.h"
#include "open.h"
#include "sa.h"
#include "sig.h"
#include "syncdir.h"
#include "date822.h"
#include "ids.h"
#include "qfn.h"
#include "auto.h"
#include "qmail-queue.h"

#define DEATH 86400     /* 24 h; below qmail-send's 36 h cleanup of S2/S3 */
#define ADDRMAX 1000    /* qmail-limits(7): longest envelope address */

static char inbuf[65536];
static char outbuf[65536];
static bio in;
static bio out;

static char pidfn[4 + 3 * FMT_ULONG + 3];
static char messfn[QFN_SIZE];
static char intdfn[QFN_SIZE];
static char todofn[QFN_SIZE];
static int messfd = -1;
static int intdfd = -1;

/* Which files exist right now. Set with SIGALRM blocked, so the alarm
 * handler's cleanup always sees the truth. */
static volatile sig_atomic_t madepid;
static volatile sig_atomic_t mademess;
static volatile sig_atomic_t madeintd;
static volatile sig_atomic_t madetodo;

/* cleanup - remove what this run created; async-signal-safe. Truncating
 * first gives the space back even if the unlink fails. */
static void cleanup(void)
{
  /* todo/ first: while it names the message, the message is queued. If
   * it cannot go, the message will be delivered once our lock is gone,
   * and that is what we must report. */
  if (madetodo && unlink(todofn) == -1) _exit(0);
  if (madeintd) { if (ftruncate(intdfd, 0) == -1) {} unlink(intdfn); }
  if (mademess) { if (ftruncate(messfd, 0) == -1) {} unlink(messfn); }
  if (madepid) unlink(pidfn);
}

static noreturn void quit(int code) { cleanup(); _exit(code); }
static noreturn void die_nomem(void) { quit(51); }
static noreturn void die_write(void) { quit(53); }
static noreturn void die_read(void) { quit(54); }
static noreturn void die_toolong(void) { quit(11); }
static noreturn void die_format(void) { quit(91); }
static void sigalrm(int sig) { (void)sig; quit(52); }
/* memory may be corrupt: touch no file names */
static void sigbug(int sig) { (void)sig; _exit(81); }

/* received - "Received: (qmail PID invoked ...); " into line; the date
 * follows once the message begins (dated) */
static void received(sa *line, unsigned long pid, uid_t uid)
{
  uid_t ua, ud, us;

  if (!ids_uid(auto_usera, &ua) || !ids_uid(auto_userd, &ud) ||
      !ids_uid(auto_users, &us))
    _exit(55);
  if (!sa_copys(line, "Received: (qmail ") || !sa_catulong(line, pid) ||
      !sa_cats(line, " invoked "))
    die_nomem();
  if (uid == ua) { if (!sa_cats(line, "by alias")) die_nomem(); }
  else if (uid == ud) { if (!sa_cats(line, "from network")) die_nomem(); }
  else if (uid == us) { if (!sa_cats(line, "for bounce")) die_nomem(); }
  else if (!sa_cats(line, "by uid ") || !sa_catulong(line, uid)) die_nomem();
  if (!sa_cats(line, "); ")) die_nomem();
}

static void dated(sa *line, time_t now)
{
  if (!date822_fmt_utc(line, now) || !sa_append(line, '\n')) die_nomem();
}

/* waitinput - block until the message's first bytes (or its end) are on
 * fd 0: a caller may start us ahead of time (qmail-smtpd at MAIL), and
 * until the message begins we hold no file */
static void waitinput(void)
{
  bio_init(&in, 0, inbuf, sizeof inbuf);
  if (bio_feed(&in) == -1) _exit(54);
}

/* pidfile - create pid/PID.TIME.SEQ exclusively; its inode names the message */
static void pidfile(unsigned long pid, time_t now)
{
  unsigned long seq;
  size_t n;

  for (seq = 1; seq < 10; ++seq) {
    n = fmt_str(pidfn, "pid/");
    n += fmt_ulong(pidfn + n, pid);
    pidfn[n++] = '.';
    n += fmt_ulong(pidfn + n, (unsigned long)now);
    pidfn[n++] = '.';
    n += fmt_ulong(pidfn + n, seq);
    pidfn[n] = 0;
    messfd = open_excl(pidfn);
    if (messfd != -1) {
      madepid = 1;
      /* held until we exit: a fresh inode, so nobody else has it */
      if (lock_ex(messfd) == -1) quit(63);
      return;
    }
    if (errno != EEXIST) break;
  }
  quit(63);
}

/* startsync - start writing fd's data to disk without waiting; the fsync
 * that follows still decides. Where the system lacks it, a no-op. */
static void startsync(int fd)
{
#ifdef SYNC_FILE_RANGE_WRITE
  if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == -1) {}
#else
  (void)fd;
#endif
}

/* put - one write into the current output file */
static void put(const char *s, size_t n) { if (!bio_put(&out, s, n)) die_write(); }

/* envchar - next envelope byte; EOF before the final NUL is a read failure */
static char envchar(void)
{
  char c;
  if (bio_getc(&in, &c) != 1) die_read();
  return c;
}

/* envaddr - copy one address and its NUL from the envelope into intd */
static void envaddr(void)
{
  size_t len;
  char c;

  for (len = 0;; ++len) {
    c = envchar();
    if (c && len >= ADDRMAX) die_toolong();
    put(&c, 1);
    if (!c) return;
  }
}

/* envelope - u and p records, then the caller's records checked one by one
 * and written through, so a huge recipient list needs no memory */
static void envelope(unsigned long pid, uid_t uid)
{
  char num[FMT_ULONG];
  char c;

  put("u", 1); put(num, fmt_ulong(num, uid)); put("", 1);
  put("p", 1); put(num, fmt_ulong(num, pid)); put("", 1);
  if (envchar() != 'F') die_format();
  put("F", 1);
  envaddr();
  while ((c = envchar())) {
    if (c != 'T') die_format();
    put("T", 1);
    envaddr();
  }
  /* the final NUL ends the list and is not stored, as in qmail */
}

/* trigger - wake qmail-send; if nobody listens the open fails and that is fine */
static void trigger(void)
{
  int fd = open("lock/trigger", O_WRONLY | O_NONBLOCK);
  if (fd == -1) return;
  if (write(fd, "", 1) == -1) {}
  close(fd);
}

/* fds - a closed fd 0 or 1 would be reused by our own files. In the
 * musl build the entry point has looked already (qmail-queue-entry.c):
 * musl's start-up has since opened /dev/null on what was closed. */
static void fds(void)
{
  int fl;

  if (entry_badfd) _exit(54);
  fl = fcntl(0, F_GETFL);
  if (fl == -1 || (fl & O_ACCMODE) == O_WRONLY) _exit(54);
  fl = fcntl(1, F_GETFL);
  if (fl == -1 || (fl & O_ACCMODE) == O_WRONLY) _exit(54);
  if (fcntl(2, F_GETFD) == -1) open("/dev/null", O_WRONLY);
}

/* signals - a broken caller, a size limit or a crash must not leave files */
static void signals(void)
{
  sig_ignore(SIGPIPE);
  sig_ignore(SIGXFSZ);   /* a file size limit becomes a write error, 53 */
  sig_ignore(SIGHUP);    /* a caller killed by ^C closes our input: we clean up */
  sig_ignore(SIGINT);
  sig_ignore(SIGQUIT);
  sig_catch(SIGSEGV, sigbug);
  sig_catch(SIGBUS, sigbug);
  sig_catch(SIGILL, sigbug);
  sig_catch(SIGFPE, sigbug);
  sig_catch(SIGALRM, sigalrm);
}

/* nameless - a new file with no name, placed in mess/(n mod split), or
 * -1 when the system cannot make one (then the caller names a file in
 * pid/ or intd/ as qmail does). A file system allocates a new inode near
 * its directory's, and where setup could, it spread the mess/ directories
 * over the disk (scripts/setup.sh, chattr +T): so consecutive messages
 * take their inodes from different places, and no single place fills
 * with inodes freed moments ago (ext4 without a journal walks past those
 * on every allocation; doc/queue.md). */
static int nameless(unsigned long n)
{
  char dir[QFN_SIZE];
  size_t len = fmt_str(dir, "mess/");

  dir[len + fmt_ulong(dir + len, n % auto_split)] = 0;
  return open_nameless(AT_FDCWD, dir);
}

/* pickname - S1 -> S2: a fresh inode is a number no queued message holds;
 * it becomes the message's name in mess/. The file is a nameless one,
 * locked before it gets that name, or else the pid file. */
static void pickname(unsigned long pid, time_t now)
{
  struct stat st;
  int r;

  sig_block(SIGALRM);
  messfd = nameless(pid);
  if (messfd == -1) pidfile(pid, now);
  else if (lock_ex(messfd) == -1) quit(63);
  if (fstat(messfd, &st) == -1) quit(63);
  qfn_fmt(messfn, "mess", (unsigned long)st.st_ino, 1);
  qfn_fmt(intdfn, "intd", (unsigned long)st.st_ino, 0);
  qfn_fmt(todofn, "todo", (unsigned long)st.st_ino, 0);
  r = madepid ? link(pidfn, messfn) : link_nameless(messfd, AT_FDCWD, messfn);
  if (r == -1) quit(64);
  mademess = 1;
  if (madepid && unlink(pidfn) == -1) quit(63);
  madepid = 0;
  sig_unblock(SIGALRM);
}

/* message - our Received line and fd 0 into the message file; its
 * writeback starts now so that one journal commit can carry it together
 * with the envelope's */
static void message(const sa *line)
{
  bio_init(&out, messfd, outbuf, sizeof outbuf);
  put(line->s, line->len);
  switch (bio_copy(&out, &in)) {
    case -1: die_read();
    case -2: die_write();
  }
  if (!bio_flush(&out)) die_write();
  startsync(messfd);
}

/* intd - S2 -> S3: the envelope from fd 1 into intd/: a nameless file
 * (in the mess/ directory after the message's) linked there, or else one
 * created there */
static void intd(unsigned long pid, uid_t uid)
{
  int fd;

  sig_block(SIGALRM);
  fd = nameless(pid + 1);
  if (fd == -1) intdfd = open_excl(intdfn);
  else if (link_nameless(fd, AT_FDCWD, intdfn) == -1) close(fd);
  else intdfd = fd;
  if (intdfd == -1) quit(65);
  madeintd = 1;
  sig_unblock(SIGALRM);
  bio_init(&out, intdfd, outbuf, sizeof outbuf);
  bio_init(&in, 1, inbuf, sizeof inbuf);
  envelope(pid, uid);
  if (!bio_flush(&out)) die_write();
  startsync(intdfd);
}

/* commit - S3 -> S4: the todo link. Both files and the message's name are
 * durable before todo names them. qmail-send may see todo/id at once but
 * waits for our lock on the message, so until we exit even the link can
 * be undone: a failed fsync of todo/ unlinks it again and reports 53. */
static noreturn void commit(void)
{
  if (fsync(messfd) == -1 || fsync(intdfd) == -1) die_write();
  if (syncdir_of(messfn) == -1) die_write();
  sig_block(SIGALRM);
  alarm(0);
  if (link(intdfn, todofn) == -1) quit(66);
  madetodo = 1;
  if (syncdir_of(todofn) == -1) die_write();
  madetodo = madeintd = mademess = 0;
  /* the lock goes before the trigger, so the scan it starts takes us */
  close(messfd);
  trigger();
  _exit(0);
}

int main(void)
{
  unsigned long pid = (unsigned long)getpid();
  uid_t uid = getuid();
  time_t now;
  sa line = SA_ZERO;

  sig_blocknone();
  fds();
  umask(033);
  if (chdir(auto_home) == -1) _exit(61);
  if (chdir("queue") == -1) _exit(62);
  received(&line, pid, uid);
  signals();
  alarm(DEATH);          /* before any file exists */
  waitinput();
  now = time(0);
  dated(&line, now);
  pickname(pid, now);
  message(&line);
  intd(pid, uid);
  commit();
}
