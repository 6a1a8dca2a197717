/* qmail-lspawn - run qmail-local for qmail-send, one child per delivery,
 * under the uid and gid of the user who controls the address
 * (qmail-lspawn(8)). The only long-lived root process: it looks up the
 * user in users/cdb, else with qmail-getpw (run as qmailp), refuses uid 0,
 * drops to the user with no supplementary groups and execs qmail-local
 * with the message on a seekable fd 0.
 * Running qmail-getpw for every delivery would cost a fork and an exec
 * each, so the parent keeps one `qmail-getpw -s` running as qmailp (the
 * getpw server): a child sends it the local part with the write end of a
 * fresh pipe, and reads the answer from that pipe. No answer at all (the
 * server is gone, busy too long, or failed) sends the child the old way:
 * it runs qmail-getpw for this one lookup, which explains any failure.
 * The parent starts the server when a delivery needs it and it is not
 * running, at most once a second.
 * An answer for a local part is also remembered for GETPW_TTL seconds:
 * the child that got it sends it up a pipe (one write under PIPE_BUF, so
 * records never mix), the parent files it before its next fork, and
 * later children find it in their copy of the table. users/cdb is still
 * read first for every delivery. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
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
#include "str.h"
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

/* the getpw cache: a few recent answers, each a record local NUL answer */
#define GETPW_TTL 10         /* seconds an answer is used again */
#define CACHE_SLOTS 64
#define CACHE_RECMAX (PIPE_BUF < 1024 ? PIPE_BUF : 1024)

/* the getpw server */
#define SERVER_WAIT 60000    /* ms a child waits for an answer */
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

/* the getpw cache (see the top of the file) */
struct cached {
  char *rec;          /* local NUL answer; 0 for an empty slot */
  size_t klen;        /* length of local */
  size_t len;         /* length of rec */
  time_t when;        /* monotonic seconds when filed */
};
static struct cached cache[CACHE_SLOTS];
static int cachepipe[2] = { -1, -1 };
static char cacheacc[2 * (CACHE_RECMAX + 2)];
static size_t cacheacclen;

static time_t monotime(void)
{
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) return 0;
  return ts.tv_sec;
}

/* cache_file - keep rec[0..len) (local NUL answer), replacing the entry
 * for the same local or else the oldest; out of memory just forgets */
static void cache_file(const char *rec, size_t len, time_t now)
{
  size_t klen = byte_chr(rec, len, 0), i, pick = 0;
  char *copy;

  if (klen == len) return;
  for (i = 0; i < CACHE_SLOTS; ++i) {
    if (cache[i].rec && cache[i].klen == klen && !memcmp(cache[i].rec, rec, klen)) { pick = i; break; }
    if (!cache[i].rec || (cache[pick].rec && cache[i].when < cache[pick].when)) pick = i;
  }
  copy = malloc(len);
  if (!copy) return;
  memcpy(copy, rec, len);
  free(cache[pick].rec);
  cache[pick].rec = copy;
  cache[pick].klen = klen;
  cache[pick].len = len;
  cache[pick].when = now;
}

/* cache_drain - in the parent: file every record the children sent. A
 * record on the pipe is two length bytes (high, low) and the record. */
static void cache_drain(void)
{
  time_t now = monotime();
  ssize_t r;
  size_t pos, n;

  if (cachepipe[0] == -1) return;
  for (;;) {
    r = read(cachepipe[0], cacheacc + cacheacclen, sizeof cacheacc - cacheacclen);
    if (r == -1 && errno == EINTR) continue;
    if (r <= 0) return;
    cacheacclen += (size_t)r;
    for (pos = 0; cacheacclen - pos >= 2; pos += 2 + n) {
      n = ((size_t)(unsigned char)cacheacc[pos] << 8) | (unsigned char)cacheacc[pos + 1];
      if (n > CACHE_RECMAX) { cacheacclen = pos = 0; break; } /* cannot happen: start over */
      if (cacheacclen - pos - 2 < n) break;
      cache_file(cacheacc + pos + 2, n, now);
    }
    memmove(cacheacc, cacheacc + pos, cacheacclen - pos);
    cacheacclen -= pos;
  }
}

/* cache_find - in a child: a fresh answer for local, or 0 */
static const struct cached *cache_find(const char *local, size_t klen)
{
  time_t now = monotime();
  size_t i;

  for (i = 0; i < CACHE_SLOTS; ++i)
    if (cache[i].rec && cache[i].klen == klen && !memcmp(cache[i].rec, local, klen)
        && now >= cache[i].when && now - cache[i].when < GETPW_TTL)
      return &cache[i];
  return 0;
}

/* cache_send - in a child: offer the parent qmail-getpw's answer; a full
 * pipe or a record too long for one atomic write is simply not cached */
static void cache_send(const char *local, size_t klen, const char *ans, size_t len)
{
  char rec[2 + CACHE_RECMAX];
  size_t n;

  if (cachepipe[1] == -1 || klen >= CACHE_RECMAX || len > CACHE_RECMAX - klen - 1) return;
  n = klen + 1 + len;
  rec[0] = (char)(n >> 8);
  rec[1] = (char)(n & 255);
  memcpy(rec + 2, local, klen);
  rec[2 + klen] = 0;
  memcpy(rec + 3 + klen, ans, len);
  if (write(cachepipe[1], rec, n + 2) == -1) {}
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

/* srv_ask - in a child: the server's answer for local[0..klen) into
 * buf; its length, or 0 when there is none */
static size_t srv_ask(char *buf, size_t size, const char *local, size_t klen)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
  struct msghdr m;
  struct iovec v;
  struct cmsghdr *c;
  struct pollfd p;
  size_t len = 0;
  int pi[2];

  if (srvfd == -1 || pipe2(pi, O_CLOEXEC) == -1) return 0;
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
  while (sendmsg(srvfd, &m, MSG_NOSIGNAL) == -1)
    if (errno != EINTR) { close(pi[0]); close(pi[1]); return 0; }
  /* the answer ends when the server closes its copy of the write end */
  close(pi[1]);
  p.fd = pi[0];
  p.events = POLLIN;
  for (;;) {
    ssize_t n;
    int r = poll(&p, 1, SERVER_WAIT);
    if (r == -1 && errno == EINTR) continue;
    if (r != 1) { len = 0; break; }
    n = read(pi[0], buf + len, size - len);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len == size) { len = 0; break; }
  }
  close(pi[0]);
  return len;
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

/* getpw - qmail-getpw's answer for local[0..klen) into a; exits on trouble */
static void getpw(assign *a, const char *local, size_t klen)
{
  char buf[GETPWMAX];
  size_t len = 0;
  int pi[2], wstat, r;
  pid_t pid;

  len = srv_ask(buf, sizeof buf, local, klen);
  if (len) {
    r = assign_parse(a, buf, len);
    if (r == -1) _exit(QLX_NOMEM);
    if (r == 1) { cache_send(local, klen, buf, len); return; }
    len = 0;                         /* not an answer: ask the old way */
  }
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
  cache_send(local, klen, buf, len);
}

static void child(const char *sender, const char *recip, size_t at)
{
  assign a = ASSIGN_ZERO;
  sa local = SA_ZERO;
  char qlocal[4096];
  char *args[11];
  int r;

  if (chdir(auto_home) == -1) _exit(QLX_USAGE);
  /* an empty mailbox name is a trash address (qmail-lspawn(8)) */
  if (!at) _exit(0);
  if (!sa_copyb(&local, recip, at) || !sa_0(&local)) _exit(QLX_NOMEM);
  r = assign_lookup(&a, recip, at);
  if (r == -1) _exit(errno == ENOMEM ? QLX_NOMEM : QLX_CDB);
  if (r == 0) {
    const struct cached *c = cache_find(local.s, at);
    r = c ? assign_parse(&a, c->rec + c->klen + 1, c->len - c->klen - 1) : 0;
    if (r == -1) _exit(QLX_NOMEM);
    if (r == 0) getpw(&a, local.s, at);
  }
  if (a.uid == 0) _exit(QLX_ROOT);
  if (strlen(auto_home) + sizeof "/bin/qmail-local" > sizeof qlocal) _exit(QLX_USAGE);
  strcpy(qlocal, auto_home);
  strcat(qlocal, "/bin/qmail-local");
  /* the user's gid only: no supplementary groups */
  if (!priv_drop(a.uid, a.gid)) _exit(QLX_USAGE);
  args[0] = qlocal;
  args[1] = "--";
  args[2] = a.user.s;
  args[3] = a.home.s;
  args[4] = local.s;
  args[5] = a.dash.s;
  args[6] = a.ext.s;
  args[7] = (char *)recip + at + 1;
  args[8] = (char *)sender;
  args[9] = (char *)defaultdelivery;
  args[10] = 0;
  execv(args[0], args);
  _exit(err_temp(errno) ? QLX_EXECSOFT : QLX_EXECHARD);
}

static pid_t start(int fdmess, int fdout, const char *sender, const char *recip, size_t at)
{
  pid_t pid;

  cache_drain();
  srv_start();
  pid = fork();
  if (pid != 0) return pid;
  if (spawn_childsetup(fdmess, fdout) == -1) _exit(QLX_SYS);
  child(sender, recip, at);
  _exit(QLX_USAGE);
}

int main(int argc, char **argv)
{
  spawn_ops ops;
  gid_t g;

  defaultdelivery = argv[1];
  if (argc < 2 || !defaultdelivery) _exit(100);
  if (!ids_uid(auto_userp, &uidp) || !ids_uid(auto_userq, &uidq) ||
      !ids_gid(auto_groupn, &gidn) || !ids_gid(auto_groupq, &g)) _exit(111);
  /* no cache without its pipe; both ends close on exec */
  if (pipe2(cachepipe, O_CLOEXEC | O_NONBLOCK) == -1) cachepipe[0] = cachepipe[1] = -1;
  ops.limit = auto_spawn;
  ops.maxoutput = TRUNCREPORT;
  ops.messowner = uidq;
  ops.start = start;
  ops.report = report;
  spawn_onreap(srv_reaped);
  return spawn_main(&ops);
}
