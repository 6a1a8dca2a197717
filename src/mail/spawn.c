#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn.h"
#include "auto.h"
#include "bio.h"
#include "fd.h"
#include "sig.h"
#include "spawnproto.h"
#include "str.h"
#include "wait.h"

struct slot {
  int used;
  pid_t pid;         /* 0 once reaped */
  int wstat;
  int fd;            /* output pipe, -1 at EOF */
  int truncated;
  sa out;
};

static const spawn_ops *ops;
static struct slot *d;
static unsigned long limit;
static int selfpipe[2] = { -1, -1 };
static int flagreading = 1;
static int flagwriting = 1;
static sa outbuf = SA_ZERO;
static spawnrd cmd;

static void sigchld(int s)
{
  int e = errno;
  (void)s;
  if (write(selfpipe[1], "", 1) == -1) { /* full: a wakeup is pending */ }
  errno = e;
}

/* reply - queue one report for fd 1; out of memory drops it, and
 * qmail-send then waits for a report that never comes, so try hard */
static void reply(unsigned long n, const char *r, size_t len)
{
  while (!spawnproto_report(&outbuf, n, r, len)) sleep(1);
}

static void replys(unsigned long n, const char *r) { reply(n, r, strlen(r)); }

static void flush(void)
{
  if (!outbuf.len) return;
  if (flagwriting && !bio_writeall(1, outbuf.s, outbuf.len, 0)) flagwriting = 0;
  outbuf.len = 0;
}

/* drain - read what the pipe holds now; 1 at EOF or error */
static int drain(struct slot *s)
{
  char buf[4096];
  for (;;) {
    ssize_t r = read(s->fd, buf, sizeof buf);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) return errno != EAGAIN;
    if (r == 0) return 1;
    {
      size_t keep = (size_t)r;
      if (s->out.len + keep > ops->maxoutput) {
        keep = s->out.len < ops->maxoutput ? ops->maxoutput - s->out.len : 0;
        s->truncated = 1;
      }
      if (keep && !sa_catb(&s->out, buf, keep)) s->truncated = 1;
    }
    if ((size_t)r < sizeof buf) return 0;
  }
}

static void finish(unsigned long i)
{
  struct slot *s = &d[i];
  sa rep = SA_ZERO;

  if (s->fd != -1) { drain(s); close(s->fd); s->fd = -1; }
  ops->report(&rep, s->wstat, s->out.s ? s->out.s : "", s->out.len, s->truncated);
  if (rep.len) reply(i, rep.s, rep.len);
  else replys(i, "Zqmail-spawn out of memory. (#4.3.0)\n");
  sa_free(&rep);
  if (s->out.a > 65536) sa_free(&s->out);
  s->out.len = 0;
  s->used = 0;
}

static void reap(void)
{
  char buf[64];
  int wstat;
  pid_t pid;
  unsigned long i;

  while (read(selfpipe[0], buf, sizeof buf) > 0) ;
  while ((pid = wait_nohang(&wstat)) > 0) {
    for (i = 0; i < limit; ++i)
      if (d[i].used && d[i].pid == pid) {
        d[i].pid = 0;
        d[i].wstat = wstat;
        /* all it wrote before exiting is in the pipe by now */
        finish(i);
        break;
      }
  }
}

static int messid_ok(const sa *m)
{
  size_t i, n = m->len - 1;
  if (!n || n > 100) return 0;
  for (i = 0; i < n; ++i) {
    if (m->s[i] >= '0' && m->s[i] <= '9') continue;
    if (m->s[i] == '/' && i) continue;
    return 0;
  }
  return 1;
}

static void docmd(void)
{
  unsigned long n;
  const sa *messfn = &cmd.f[1], *sender = &cmd.f[2], *recip = &cmd.f[3];
  struct stat st;
  int fdmess, pi[2];
  size_t at, rlen;
  pid_t pid;

  if (cmd.nomem) {
    if (cmd.f[0].s && spawnproto_num(&cmd.f[0], &n)) replys(n, "Zqmail-spawn out of memory. (#4.3.0)\n");
    return;
  }
  if (!spawnproto_num(&cmd.f[0], &n)) return;  /* no slot to answer */
  if (n >= limit) { replys(n, "ZInternal error: delivery number too big. (#4.3.5)\n"); return; }
  if (d[n].used) { replys(n, "ZInternal error: delivery number in use. (#4.3.5)\n"); return; }
  if (cmd.toolong) { replys(n, "DInternal error: job field too long. (#5.3.5)\n"); return; }
  if (!messid_ok(messfn)) { replys(n, "DInternal error: bad message name. (#5.3.5)\n"); return; }
  rlen = recip->len - 1;
  if (!rlen) {
    replys(n, "DSorry, the recipient address is empty; there is no mailbox to deliver to. (#5.1.1)\n");
    return;
  }
  at = byte_rchr(recip->s, rlen, '@');
  if (at == rlen) { replys(n, "DSorry, address must include host name. (#5.1.3)\n"); return; }

  fdmess = open(messfn->s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fdmess == -1) { replys(n, "Zqmail-spawn unable to open message. (#4.3.0)\n"); return; }
  if (fstat(fdmess, &st) == -1) {
    close(fdmess);
    replys(n, "Zqmail-spawn unable to fstat message. (#4.3.0)\n");
    return;
  }
  if (!S_ISREG(st.st_mode)) { close(fdmess); replys(n, "ZSorry, message has wrong type. (#4.3.5)\n"); return; }
  /* only qmail-queue writes the queue; anything else means trouble */
  if (st.st_uid != ops->messowner) { close(fdmess); replys(n, "ZSorry, message has wrong owner. (#4.3.5)\n"); return; }
  if (pipe2(pi, O_CLOEXEC) == -1) {
    close(fdmess);
    replys(n, "Zqmail-spawn unable to create pipe. (#4.3.0)\n");
    return;
  }
  pid = ops->start(fdmess, pi[1], sender->s, recip->s, at);
  close(fdmess);
  close(pi[1]);
  if (pid == -1) {
    close(pi[0]);
    replys(n, "Zqmail-spawn unable to fork. (#4.3.0)\n");
    return;
  }
  fd_nonblock(pi[0]);
  d[n].used = 1;
  d[n].pid = pid;
  d[n].wstat = 0;
  d[n].fd = pi[0];
  d[n].truncated = 0;
  d[n].out.len = 0;
}

static void getcmds(void)
{
  char buf[8192];
  ssize_t r = read(0, buf, sizeof buf);
  size_t pos = 0;

  if (r == 0) { flagreading = 0; return; }
  if (r == -1) {
    if (errno != EINTR && errno != EAGAIN) flagreading = 0;
    return;
  }
  while (pos < (size_t)r) {
    int done;
    pos += spawnrd_feed(&cmd, buf + pos, (size_t)r - pos, &done);
    if (done) { docmd(); spawnrd_reset(&cmd); }
  }
}

int spawn_childsetup(int fdmess, int fdout)
{
  sig_default(SIGPIPE);
  sig_default(SIGCHLD);
  sig_blocknone();
  if (fd_move(0, fdmess) == -1) return -1;
  if (fd_move(1, fdout) == -1) return -1;
  if (fd_copy(2, 1) == -1) return -1;
  return 0;
}

static unsigned long fdlimit(unsigned long want)
{
  struct rlimit rl;
  unsigned long room;

  if (getrlimit(RLIMIT_NOFILE, &rl) == -1) return want;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY) return want;
  room = rl.rlim_cur > 40 ? (unsigned long)rl.rlim_cur - 32 : 8;
  return want < room ? want : room;
}

int spawn_main(const spawn_ops *o)
{
  static const size_t max[4] = { 20, 200, 4000, 4000 };
  struct pollfd *p;
  unsigned long *map, i;
  sa hello = SA_ZERO;

  ops = o;
  /* keep fd 2 taken so pipes never land there */
  if (fcntl(2, F_GETFD) == -1 && open("/dev/null", O_WRONLY) != 2) return 111;
  if (chdir(auto_home) == -1 || chdir("queue/mess") == -1) return 111;
  limit = fdlimit(ops->limit ? ops->limit : 1);
  if (!limit) limit = 1;
  d = calloc(limit, sizeof *d);
  p = calloc(limit + 2, sizeof *p);
  map = calloc(limit + 2, sizeof *map);
  if (!d || !p || !map) return 111;
  if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) == -1) return 111;
  spawnrd_init(&cmd, 4, max);
  sig_ignore(SIGPIPE);
  sig_catch(SIGCHLD, sigchld);
  fd_nonblock(0);
  if (!spawnproto_hello(&hello, limit)) return 111;
  if (!bio_writeall(1, hello.s, hello.len, 0)) return 111;
  sa_free(&hello);

  for (;;) {
    nfds_t n = 0;
    unsigned long busy = 0;

    for (i = 0; i < limit; ++i) if (d[i].used) ++busy;
    if (!flagreading && !busy) break;
    if (flagreading) { p[n].fd = 0; p[n].events = POLLIN; map[n++] = limit; }
    p[n].fd = selfpipe[0]; p[n].events = POLLIN; map[n++] = limit + 1;
    for (i = 0; i < limit; ++i)
      if (d[i].used && d[i].fd != -1) { p[n].fd = d[i].fd; p[n].events = POLLIN; map[n++] = i; }
    if (poll(p, n, -1) == -1) { if (errno != EINTR) sleep(1); continue; }
    for (i = 0; i < n; ++i) {
      unsigned long k = map[i];
      if (!p[i].revents) continue;
      if (k == limit) continue;             /* commands come last */
      if (k == limit + 1) continue;         /* reaping too */
      if (d[k].used && d[k].fd == p[i].fd && drain(&d[k])) {
        close(d[k].fd);
        d[k].fd = -1;
      }
    }
    reap();
    if (flagreading && p[0].fd == 0 && p[0].revents) getcmds();
    flush();
  }
  flush();
  return 0;
}
