/* qmail-lspawn - run qmail-local for qmail-send, one child per delivery,
 * under the uid and gid of the user who controls the address
 * (qmail-lspawn(8)). The only long-lived root process: it looks up the
 * user in users/cdb, else asks qmail-getpw (run as qmailp), refuses uid 0,
 * drops to the user with no supplementary groups and execs qmail-local
 * with the message on a seekable fd 0.
 * Lookups that users/cdb does not answer go to one `qmail-getpw -s` kept
 * running as qmailp (the getpw server): the parent sends it the local part
 * with the write end of a fresh pipe and reads the answer from that pipe.
 * An answer within SERVER_QUICK ms (the usual case), like a users/cdb
 * entry, lets the parent start qmail-local with vfork: the child only
 * drops privileges and execs, and the parent's pages are never copied.
 * A slower server leaves the rest of the wait to a forked child, up to
 * SERVER_WAIT ms in all. No answer at all (the server is not running and
 * cannot be started, is gone, or failed) makes that child run qmail-getpw
 * for this one lookup, as qmail does, which explains any failure. The
 * parent starts the server when a lookup needs it and it is not running,
 * at most once a second. Nothing is remembered between deliveries. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "assign.h"
#include "auto.h"
#include "errtemp.h"
#include "fd.h"
#include "ids.h"
#include "priv.h"
#include "sa.h"
#include "sig.h"
#include "spawn.h"
#include "waitchild.h"

/* exit codes of a delivery child before qmail-local runs (qmail's qlx) */
#define QLX_USAGE 112
#define QLX_ROOT 113
#define QLX_NFS 115
#define QLX_NOALIAS 116
#define QLX_CDB 117
#define QLX_SYS 118
#define QLX_NOMEM 119
#define QLX_EXECSOFT 120
#define QLX_EXECPW 121
#define QLX_EXECHARD 126

#define TRUNCREPORT 3000
#define GETPWMAX 4096

/* the getpw server */
#define SERVER_QUICK 20      /* ms the parent waits for an answer */
#define SERVER_WAIT 60000    /* ms a delivery waits for an answer in all */
#define SERVER_RESTART 1     /* seconds between starts at least */

static const char *defaultdelivery;
static uid_t uidp, uidq;
static gid_t gidn;

static const char *qlxtext(int code)
{
  switch (code) {
    case QLX_CDB: return "ZTrouble reading users/cdb in qmail-lspawn.\n";
    case QLX_NOMEM: return "ZOut of memory in qmail-lspawn.\n";
    case QLX_SYS: return "ZTemporary failure in qmail-lspawn.\n";
    case QLX_NOALIAS: return "ZUnable to find alias user!\n";
    case QLX_ROOT: return "ZNot allowed to perform deliveries as root.\n";
    case QLX_USAGE: return "ZInternal qmail-lspawn bug.\n";
    case QLX_NFS: return "ZNFS failure in qmail-local.\n";
    case QLX_EXECHARD: return "DUnable to run qmail-local.\n";
    case QLX_EXECSOFT: return "ZUnable to run qmail-local.\n";
    case QLX_EXECPW: return "ZUnable to run qmail-getpw.\n";
  }
  return 0;
}

/* report - qmail-local's exit: 0 K; 111, 71, 74, 75 Z; else D */
static void report(sa *out, int wstat, const char *s, size_t len, int truncated)
{
  static const char note[] = "\nError report too long, sorry.\n";
  const char *t;
  const char *z;
  char c;
  int code;

  if (!WIFEXITED(wstat)) { sa_cats(out, "Zqmail-local crashed.\n"); return; }
  code = WEXITSTATUS(wstat);
  t = qlxtext(code);
  if (t) { sa_cats(out, t); return; }
  switch (code) {
    case 0: c = 'K'; break;
    case 111: case 71: case 74: case 75: c = 'Z'; break;
    default: c = 'D'; break;
  }
  z = memchr(s, 0, len);
  if (z) len = (size_t)(z - s);
  if (truncated && len > TRUNCREPORT - sizeof note) len = TRUNCREPORT - sizeof note;
  if (!sa_append(out, c) || !sa_catb(out, s, len)) { out->len = 0; return; }
  if (truncated && !z && !sa_cats(out, note)) out->len = 0;
}

static time_t monotime(void)
{
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) return 0;
  return ts.tv_sec;
}

/* the getpw server (see the top of the file); srvfd is our end of its
 * socket, -1 when it is not running, and closes on exec */
static int srvfd = -1;
static pid_t srvpid;
static time_t srvstarted;

/* srv_reaped - spawn_main reaped a child that is not a delivery */
static void srv_reaped(pid_t pid, int wstat)
{
  (void)wstat;
  if (pid != srvpid) return;
  srvpid = 0;
  if (srvfd != -1) { close(srvfd); srvfd = -1; }
}

/* srv_start - start qmail-getpw -s as qmailp/nofiles, if it is not
 * running and was not started within SERVER_RESTART seconds */
static void srv_start(void)
{
  char path[4096];
  char *args[3];
  int sv[2], null;
  time_t now = monotime();
  pid_t pid;

  if (srvpid || (srvstarted && now - srvstarted < SERVER_RESTART)) return;
  srvstarted = now ? now : 1;
  if (strlen(auto_home) + sizeof "/bin/qmail-getpw" > sizeof path) return;
  strcpy(path, auto_home);
  strcat(path, "/bin/qmail-getpw");
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) return;
  pid = fork();
  if (pid == -1) { close(sv[0]); close(sv[1]); return; }
  if (pid == 0) {
    /* fd 0 the socket, fd 1 nothing, fd 2 the log as ours */
    sig_default(SIGPIPE);
    sig_default(SIGCHLD);
    sig_blocknone();
    null = open("/dev/null", O_WRONLY);
    if (null == -1 || fd_move(1, null) == -1 || fd_move(0, sv[1]) == -1) _exit(111);
    if (!priv_drop(uidp, gidn)) _exit(111);
    args[0] = path;
    args[1] = "-s";
    args[2] = 0;
    execv(args[0], args);
    _exit(111);
  }
  close(sv[1]);
  srvpid = pid;
  srvfd = sv[0];
}

/* srv_ask - send the server local[0..klen) with the write end of a fresh
 * pipe; the read end, where the answer comes, or -1 when it cannot be
 * asked (not running, gone, no pipe) */
static int srv_ask(const char *local, size_t klen)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
  struct msghdr m;
  struct iovec v;
  struct cmsghdr *c;
  int pi[2];

  if (srvfd == -1 || pipe2(pi, O_CLOEXEC) == -1) return -1;
  v.iov_base = (char *)local;
  v.iov_len = klen;
  memset(&m, 0, sizeof m);
  memset(&ctl, 0, sizeof ctl);
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = ctl.buf;
  m.msg_controllen = sizeof ctl.buf;
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &pi[1], sizeof(int));
  while (sendmsg(srvfd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
    if (errno != EINTR) { close(pi[0]); close(pi[1]); return -1; }
  /* the answer ends when the server closes its copy of the write end */
  close(pi[1]);
  return pi[0];
}

/* the server's answer read so far; a forked child goes on from here */
static char ans[GETPWMAX];
static size_t anslen;

/* srv_read - read the answer from fd for up to ms milliseconds: 1 at its
 * end, 0 when time is up first, -1 when there is none (a read error, or
 * more than GETPWMAX bytes) */
static int srv_read(int fd, int ms)
{
  struct timespec t0, t;
  struct pollfd p;
  long left = ms;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  p.fd = fd;
  p.events = POLLIN;
  for (;;) {
    ssize_t n;
    int r = poll(&p, 1, (int)left);
    if (r == -1 && errno != EINTR) return -1;
    if (r == 1) {
      n = read(fd, ans + anslen, sizeof ans - anslen);
      if (n == 0) return 1;
      if (n > 0) {
        anslen += (size_t)n;
        if (anslen == sizeof ans) return -1;
        continue;
      }
      if (errno != EINTR && errno != EAGAIN) return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    left = ms - ((long)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0) return 0;
  }
}

/* getpw_start - start qmail-getpw local as qmailp/nofiles, its output on
 * the pipe pi */
static pid_t getpw_start(const int *pi, const char *local)
{
  char *args[4];
  pid_t pid;

  args[0] = "bin/qmail-getpw";
  args[1] = "--";
  args[2] = (char *)local;
  args[3] = 0;
  pid = fork();
  if (pid != 0) return pid;
  close(pi[0]);
  if (!priv_drop(uidp, gidn)) _exit(QLX_USAGE);
  if (dup2(pi[1], 1) == -1) _exit(QLX_SYS);
  if (pi[1] != 1) close(pi[1]);
  execv(args[0], args);
  _exit(QLX_EXECPW);
}

/* getpw_once - in a child: run qmail-getpw for local and parse its answer
 * into a; exits on trouble, with qmail-getpw's own code when it failed */
static void getpw_once(assign *a, const char *local)
{
  char buf[GETPWMAX];
  size_t len = 0;
  int pi[2], wstat, r;
  pid_t pid;

  if (pipe(pi) == -1) _exit(QLX_SYS);
  pid = getpw_start(pi, local);
  if (pid == -1) _exit(QLX_SYS);
  close(pi[1]);
  for (;;) {
    ssize_t n = read(pi[0], buf + len, sizeof buf - len);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) _exit(QLX_SYS);
    if (n == 0) break;
    len += (size_t)n;
    if (len == sizeof buf) _exit(QLX_USAGE);
  }
  close(pi[0]);
  if (wait_pid(pid, &wstat) == -1) _exit(QLX_SYS);
  if (!WIFEXITED(wstat)) _exit(QLX_SYS);
  if (WEXITSTATUS(wstat)) _exit(WEXITSTATUS(wstat));
  r = assign_parse(a, buf, len);
  if (r == -1) _exit(QLX_NOMEM);
  if (r == 0) _exit(QLX_USAGE);
}

/* one delivery's account and qmail-local's arguments, made in the parent
 * (or in a forked child) and read by the child that execs */
static assign who = ASSIGN_ZERO;
static sa local = SA_ZERO;
static char qlocal[4096];     /* auto_home/bin/qmail-local */
static char cdbfn[4096];      /* auto_home/users/cdb */
static char *args[11];

static void makeargs(const char *sender, const char *recip, size_t at)
{
  args[0] = qlocal;
  args[1] = "--";
  args[2] = who.user.s;
  args[3] = who.home.s;
  args[4] = local.s;
  args[5] = who.dash.s;
  args[6] = who.ext.s;
  args[7] = (char *)recip + at + 1;
  args[8] = (char *)sender;
  args[9] = (char *)defaultdelivery;
  args[10] = 0;
}

/* setup - in a fresh child, vforked or forked: the message on fd 0, the
 * report pipe on fds 1 and 2, signals at default, the home as cwd */
static void setup(int fdmess, int fdout)
{
  if (spawn_childsetup(fdmess, fdout) == -1) _exit(QLX_SYS);
  if (chdir(auto_home) == -1) _exit(QLX_USAGE);
}

/* become - in a child: drop to the account and run qmail-local. Only
 * system calls, so a vfork child changes nothing in the parent's memory
 * but errno, which spawn_vfork keeps. */
static noreturn void become(void)
{
  /* the user's gid only: no supplementary groups */
  if (!priv_drop(who.uid, who.gid)) _exit(QLX_USAGE);
  execv(args[0], args);
  _exit(err_temp(errno) ? QLX_EXECSOFT : QLX_EXECHARD);
}

/* vforked - in a vfork child (spawn_vfork): the account is known */
static noreturn void vforked(int fdmess, int fdout)
{
  setup(fdmess, fdout);
  become();
}

/* waiting - in a forked child: finish reading the server's answer on fd
 * (-1: none to wait for), else ask qmail-getpw once, then become */
static noreturn void waiting(int fd, int fdmess, int fdout, const char *sender, const char *recip, size_t at)
{
  int r = 0;

  setup(fdmess, fdout);
  if (fd != -1 && srv_read(fd, SERVER_WAIT) == 1) {
    r = assign_parse(&who, ans, anslen);
    if (r == -1) _exit(QLX_NOMEM);
  }
  if (r != 1) getpw_once(&who, local.s);   /* not an answer: ask the old way */
  if (who.uid == 0) _exit(QLX_ROOT);
  makeargs(sender, recip, at);
  become();
}

/* quick - a child that exits with code at once (a failure found in the
 * parent, or 0 for a trash address) */
static pid_t quick(int code)
{
  pid_t pid = vfork();
  if (pid == 0) _exit(code);
  return pid;
}

/* lookup - in the parent: the account for recip[0..at) into who. 1 found;
 * 0 not yet, *fd the answer pipe to go on reading (or -1); else a QLX code */
static int lookup(const char *recip, size_t at, int *fd)
{
  int cdb, r, e;

  *fd = -1;
  if (!sa_copyb(&local, recip, at) || !sa_0(&local)) return QLX_NOMEM;
  cdb = open(cdbfn, O_RDONLY | O_CLOEXEC);
  if (cdb == -1 && errno != ENOENT) return QLX_CDB;
  if (cdb != -1) {
    r = assign_find(&who, cdb, recip, at);
    e = errno;
    close(cdb);
    if (r == -1) return e == ENOMEM ? QLX_NOMEM : QLX_CDB;
    if (r == 1) return 1;
  }
  srv_start();
  anslen = 0;
  *fd = srv_ask(local.s, at);
  if (*fd == -1) return 0;
  r = srv_read(*fd, SERVER_QUICK);
  if (r == 0) return 0;
  close(*fd);
  *fd = -1;
  if (r == 1) {
    r = assign_parse(&who, ans, anslen);
    if (r == -1) return QLX_NOMEM;
    if (r == 1) return 1;
  }
  return 0;                          /* not an answer: the child asks the old way */
}

static pid_t start(int fdmess, int fdout, const char *sender, const char *recip, size_t at)
{
  pid_t pid;
  int r, fd;

  /* an empty mailbox name is a trash address (qmail-lspawn(8)) */
  if (!at) return quick(0);
  r = lookup(recip, at, &fd);
  if (r == 0) {
    pid = fork();
    if (pid == 0) waiting(fd, fdmess, fdout, sender, recip, at);
    if (fd != -1) close(fd);
    return pid;
  }
  if (r != 1) return quick(r);
  if (who.uid == 0) return quick(QLX_ROOT);
  makeargs(sender, recip, at);
  return spawn_vfork(vforked, fdmess, fdout);
}

int main(int argc, char **argv)
{
  spawn_ops ops;
  gid_t g;

  defaultdelivery = argv[1];
  if (argc < 2 || !defaultdelivery) _exit(100);
  if (!ids_uid(auto_userp, &uidp) || !ids_uid(auto_userq, &uidq) ||
      !ids_gid(auto_groupn, &gidn) || !ids_gid(auto_groupq, &g)) _exit(111);
  if (strlen(auto_home) + sizeof "/bin/qmail-local" > sizeof qlocal ||
      strlen(auto_home) + sizeof "/users/cdb" > sizeof cdbfn) _exit(111);
  strcpy(qlocal, auto_home);
  strcat(qlocal, "/bin/qmail-local");
  strcpy(cdbfn, auto_home);
  strcat(cdbfn, "/users/cdb");
  ops.limit = auto_spawn;
  ops.maxoutput = TRUNCREPORT;
  ops.messowner = uidq;
  ops.start = start;
  ops.report = report;
  spawn_onreap(srv_reaped);
  return spawn_main(&ops);
}
