/* qmail-pop3d - the TRANSACTION and UPDATE states of a POP3 server (RFC 1939)
 * over a maildir (maildir(5)). Runs as the user, started by checkpassword in
 * the user's home with the maildir's name as its argument; the network is
 * on fds 0 and 1. It lists new/ and cur/ once at the start, in order of
 * arrival. Nothing in the maildir changes before QUIT: only then are the
 * deleted messages unlinked and the rest moved from new/ to cur/, so a
 * session that breaks off, times out or is killed loses nothing. Refuses to
 * run as root. Untrusted input: every command line (capped at POP3_LINE);
 * message files are only read and sent. Once it has answered the client it
 * exits 0, so qmail-popup never adds a reply of its own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>     /* rename() only: no stdio streams here */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "grow.h"
#include "pop3.h"
#include "sa.h"
#include "say.h"
#include "scan.h"
#include "sig.h"
#include "str.h"
#include "syncdir.h"

#define STALE_TMP (36 * 3600)   /* tmp/ files unread this long are removed */

struct msg {
  size_t fn;            /* offset of "new/NAME" or "cur/NAME" in names */
  unsigned long size;
  time_t mtime;
  int deleted;
  int retrieved;
};

static char outbuf[8192];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);
static char inbuf[1024];
static bio in = BIO_INIT(0, inbuf, sizeof inbuf);

static sa names = SA_ZERO;
static struct msg *m;
static size_t nm, am;
static size_t last;             /* highest message number touched (LAST) */

/* the client is gone or timed out: leave the maildir as it was */
static noreturn void bye(void) { _exit(0); }

static void put(const char *s, size_t n) { if (!bio_put(&out, s, n)) bye(); }
static void puts_(const char *s) { put(s, strlen(s)); }
static void putnum(unsigned long u)
{
  char num[FMT_ULONG];
  put(num, fmt_ulong(num, u));
}
static void flush(void) { if (!bio_flush(&out)) bye(); }
static void reply(const char *s) { puts_(s); put("\r\n", 2); flush(); }
static void okay(void) { reply("+OK "); }

static noreturn void die_talk(const char *text)
{
  say(2, "qmail-pop3d: fatal: ", text, ": ", say_errno(), "\n", NULL);
  reply(text);
  bye();
}

static noreturn void die_nomem(void) { die_talk("-ERR out of memory"); }

static const char *fn(size_t i) { return names.s + m[i].fn; }

static unsigned timeout(void)
{
  unsigned long u;
  const char *s = getenv("POP3_TIMEOUT");
  if (s && scan_ulong(s, &u) && u > 0 && u < 86400) return (unsigned)u;
  return 1200;
}

/* cleantmp - remove tmp/ files nobody has read for 36 hours (maildir(5)) */
static void cleantmp(void)
{
  DIR *d = opendir("tmp");
  struct dirent *e;
  struct stat st;
  sa path = SA_ZERO;
  time_t now = time(0);

  if (!d) return;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (!sa_copys(&path, "tmp/") || !sa_cats(&path, e->d_name) || !sa_0(&path)) break;
    if (stat(path.s, &st) == 0 && now - st.st_atime > STALE_TMP) unlink(path.s);
  }
  closedir(d);
  sa_free(&path);
}

/* addmsg - list one file of new/ or cur/ if it is a regular file */
static void addmsg(const char *sub, const char *name)
{
  struct stat st;
  size_t off = names.len;
  struct msg *t;

  if (!sa_cats(&names, sub) || !sa_cats(&names, name) || !sa_0(&names)) die_nomem();
  if (stat(names.s + off, &st) == -1 || !S_ISREG(st.st_mode)) {
    names.len = off;    /* gone meanwhile, or not a message */
    return;
  }
  if (!(t = grow(m, &am, nm + 1, sizeof *m))) die_nomem();
  m = t;
  m[nm].fn = off;
  m[nm].size = (unsigned long)st.st_size;
  m[nm].mtime = st.st_mtime;
  m[nm].deleted = m[nm].retrieved = 0;
  ++nm;
}

static int bytime(const void *a, const void *b)
{
  const struct msg *x = a, *y = b;
  if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
  return strcmp(names.s + x->fn + 4, names.s + y->fn + 4);
}

/* scan - list new/ and cur/, oldest first */
static void scan(void)
{
  static const char *const sub[2] = { "new/", "cur/" };
  DIR *d;
  struct dirent *e;
  int i;

  for (i = 0; i < 2; ++i) {
    d = opendir(i ? "cur" : "new");
    if (!d) die_talk("-ERR unable to scan $HOME/Maildir");
    for (;;) {
      errno = 0;
      e = readdir(d);
      if (!e) break;
      if (e->d_name[0] != '.') addmsg(sub[i], e->d_name);
    }
    if (errno) die_talk("-ERR unable to scan $HOME/Maildir");
    closedir(d);
  }
  if (nm) qsort(m, nm, sizeof *m, bytime);
}

/* msgno - the message named by the number at *arg, or -1 after an -ERR */
static long msgno(const char **arg)
{
  unsigned long u;
  size_t n = scan_ulong(*arg, &u);

  if (!n || ((*arg)[n] && (*arg)[n] != ' ')) { reply("-ERR syntax error"); return -1; }
  *arg += n;
  if (!u) { reply("-ERR messages are counted from 1"); return -1; }
  if (u > nm) { reply("-ERR not that many messages"); return -1; }
  if (m[u - 1].deleted) { reply("-ERR already deleted"); return -1; }
  return (long)(u - 1);
}

static int noargs(const char *arg)
{
  while (*arg == ' ') ++arg;
  if (*arg) { reply("-ERR syntax error"); return 0; }
  return 1;
}

static void counts(unsigned long *n, unsigned long *bytes)
{
  size_t i;
  *n = *bytes = 0;
  for (i = 0; i < nm; ++i)
    if (!m[i].deleted) { ++*n; *bytes += m[i].size; }
}

static void do_stat(const char *arg)
{
  unsigned long n, bytes;
  if (!noargs(arg)) return;
  counts(&n, &bytes);
  puts_("+OK "); putnum(n); put(" ", 1); putnum(bytes); reply("");
}

/* uid - the unique name of message i: its file name up to any ':' */
static void putuid(size_t i)
{
  const char *s = fn(i) + 4;
  put(s, strcspn(s, ":"));
}

static void listone(size_t i, int uidl)
{
  putnum((unsigned long)i + 1);
  put(" ", 1);
  if (uidl) putuid(i); else putnum(m[i].size);
  put("\r\n", 2);
}

/* do_list - LIST or UIDL, for one message or all */
static void do_list(const char *arg, int uidl)
{
  unsigned long n, bytes;
  size_t i;
  long k;

  if (*arg) {
    if ((k = msgno(&arg)) == -1 || !noargs(arg)) return;
    puts_("+OK ");
    listone((size_t)k, uidl);
    flush();
    return;
  }
  counts(&n, &bytes);
  puts_("+OK "); putnum(n); puts_(" messages ("); putnum(bytes); puts_(" octets)\r\n");
  for (i = 0; i < nm; ++i)
    if (!m[i].deleted) listone(i, uidl);
  reply(".");
}

/* blast - send a message as a POP3 multi-line reply body: each LF or CR LF
 * becomes CR LF, a line that starts with a dot gets one more, and with
 * limited set only the headers, the blank line and `lines` body lines go
 * out. Like qmail, one extra blank line ends every message. */
static void blast(int fd, int limited, unsigned long lines)
{
  char buf[8192], ch;
  bio mb = BIO_INIT(fd, buf, sizeof buf);
  int bol = 1, cr = 0, inhead = 1, r;
  unsigned long body = 0;

  for (;;) {
    r = bio_getc(&mb, &ch);
    if (r == -1) {
      say(2, "qmail-pop3d: fatal: unable to read a message: ", say_errno(), "\n", NULL);
      bye();    /* the reply cannot be taken back; the client sees no end */
    }
    if (r == 0) break;
    if (cr) {
      cr = 0;
      if (ch != '\n') { put("\r", 1); bol = 0; }
    }
    if (ch == '\r') { cr = 1; continue; }
    if (ch == '\n') {
      put("\r\n", 2);
      if (bol && inhead) inhead = 0;
      else if (!inhead) ++body;
      bol = 1;
      if (limited && !inhead && body >= lines) break;
      continue;
    }
    if (bol && ch == '.') put(".", 1);
    put(&ch, 1);
    bol = 0;
  }
  if (cr || !bol) put("\r\n", 2);
  put("\r\n.\r\n", 5);
  flush();
}

/* do_retr - RETR, or TOP with its line count */
static void do_retr(const char *arg, int top)
{
  unsigned long lines = 0;
  size_t n;
  long k;
  int fd;

  if ((k = msgno(&arg)) == -1) return;
  if (top) {
    while (*arg == ' ') ++arg;
    n = scan_ulong(arg, &lines);
    if (!n) { reply("-ERR syntax error"); return; }
    arg += n;
  }
  if (!noargs(arg)) return;
  fd = open(fn((size_t)k), O_RDONLY | O_CLOEXEC);
  if (fd == -1) { reply("-ERR unable to open that message"); return; }
  if (top) puts_("+OK \r\n");
  else { puts_("+OK "); putnum(m[k].size); puts_(" octets\r\n"); }
  blast(fd, top, lines);
  close(fd);
  if (!top) {
    m[k].retrieved = 1;
    if ((size_t)k + 1 > last) last = (size_t)k + 1;
  }
}

static void do_dele(const char *arg)
{
  long k;
  if ((k = msgno(&arg)) == -1 || !noargs(arg)) return;
  m[k].deleted = 1;
  if ((size_t)k + 1 > last) last = (size_t)k + 1;
  okay();
}

static void do_rset(const char *arg)
{
  size_t i;
  if (!noargs(arg)) return;
  for (i = 0; i < nm; ++i) m[i].deleted = 0;
  last = 0;
  okay();
}

static void do_last(const char *arg)
{
  if (!noargs(arg)) return;
  puts_("+OK "); putnum((unsigned long)last); reply("");
}

/* do_quit - the UPDATE state: unlink the deleted, move the rest to cur/ */
static noreturn void do_quit(void)
{
  sa to = SA_ZERO;
  size_t i;
  int failed = 0;

  for (i = 0; i < nm; ++i) {
    if (m[i].deleted) {
      if (unlink(fn(i)) == -1 && errno != ENOENT) failed = 1;
      continue;
    }
    if (!str_starts(fn(i), "new/")) continue;
    if (!sa_copys(&to, "cur/") || !sa_cats(&to, fn(i) + 4)
        || !sa_cats(&to, m[i].retrieved ? ":2,S" : ":2,") || !sa_0(&to))
      die_nomem();
    rename(fn(i), to.s);        /* if it fails the message stays new: no loss */
  }
  /* the unlinks and renames reach the disk before the client hears +OK;
   * a failed sync can only bring a deleted message back: nothing is lost */
  if (syncdir("new") == -1) {}
  if (syncdir("cur") == -1) {}
  if (failed) reply("-ERR unable to unlink all deleted messages");
  else okay();
  _exit(0);
}

static void do_capa(void)
{
  reply("+OK capability list follows\r\nTOP\r\nUIDL\r\n.");
}

int main(int argc, char **argv)
{
  static pop3cmd c = POP3CMD_ZERO;
  unsigned long n, bytes;
  const char *arg;
  int r;

  sig_ignore(SIGPIPE);
  if (getuid() == 0 || geteuid() == 0)   /* say nothing: qmail-popup reports a failed login */
    die(1, "qmail-pop3d: fatal: refusing to run as root\n", NULL);
  in.timeout = out.timeout = timeout();
  if (argc < 2 || !argv[1][0] || chdir(argv[1]) == -1)
    die_talk("-ERR this user has no $HOME/Maildir");
  umask(077);
  cleantmp();
  scan();
  counts(&n, &bytes);
  puts_("+OK "); putnum(n); puts_(" messages ("); putnum(bytes); reply(" octets)");

  for (;;) {
    r = pop3_getcmd(&in, &c);
    if (r == POP3_EOF || r == POP3_ERR) bye();
    if (r == POP3_LONG) { reply("-ERR line too long"); continue; }
    if (r == POP3_BAD) { reply("-ERR syntax error"); continue; }
    arg = c.arg;
    if (str_equal(c.verb, "quit")) do_quit();
    else if (str_equal(c.verb, "stat")) do_stat(arg);
    else if (str_equal(c.verb, "list")) do_list(arg, 0);
    else if (str_equal(c.verb, "uidl")) do_list(arg, 1);
    else if (str_equal(c.verb, "retr")) do_retr(arg, 0);
    else if (str_equal(c.verb, "top")) do_retr(arg, 1);
    else if (str_equal(c.verb, "dele")) do_dele(arg);
    else if (str_equal(c.verb, "rset")) do_rset(arg);
    else if (str_equal(c.verb, "last")) do_last(arg);
    else if (str_equal(c.verb, "noop")) { if (noargs(arg)) okay(); }
    else if (str_equal(c.verb, "capa")) do_capa();
    else reply("-ERR unimplemented");
  }
}
