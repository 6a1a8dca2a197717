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
#include "grow.h"
#include "sig.h"
#include "spawnproto.h"
#include "str.h"
#include "waitchild.h"

struct slot {
  int used;
  pid_t pid;         /* 0 once reaped */
  int wstat;
  int fd;            /* output pipe, -1 at EOF */
  int truncated;
  sa out;
  unsigned long *ix; /* the job's index of each recipient run */
  size_t ixa;        /* room in ix */
  size_t n;          /* recipients run */
  size_t recl;       /* bytes kept of the current output record */
  size_t nrec;       /* output records complete */
};

static const spawn_ops *ops;
static const spawn_batchops *bops;
static struct slot *d;
static unsigned long limit;
static int selfpipe[2] = { -1, -1 };
static int flagreading = 1;
static int flagwriting = 1;
static sa outbuf = SA_ZERO;
static void (*onreap)(pid_t, int);

/* the job being read: a header record, then count recipient fields */
static spawnrd cmd;
static spawnrd rc;
static int inrcpts;
static unsigned long want, got;
static sa rlist = SA_ZERO;      /* the recipients, each with its NUL */
static size_t *roff;            /* where each starts in rlist */
static char *rbad;              /* 0 ok, 1 too long, 2 out of memory */
static char **rargs;            /* what start gets */
static unsigned long *runix;

static void sigchld(int s)
{
  int e = errno;
  (void)s;
  if (write(selfpipe[1], "", 1) == -1) { /* full: a wakeup is pending */ }
  errno = e;
}

/* reply - queue one report for fd 1; out of memory drops it, and
 * qmail-send then waits for a report that never comes, so try hard */
static void reply(unsigned long n, unsigned long idx, const char *r, size_t len)
{
  while (!spawnproto_report(&outbuf, n, idx, r, len)) sleep(1);
}

static void replys(unsigned long n, unsigned long idx, const char *r) { reply(n, idx, r, strlen(r)); }

/* replyrun - the same report for the m recipients in runix */
static void replyrun(unsigned long n, size_t m, const char *r)
{
  size_t i;
  for (i = 0; i < m; ++i) replys(n, runix[i], r);
}

static void flush(void)
{
  if (!outbuf.len) return;
  if (flagwriting && !bio_writeall(1, outbuf.s, outbuf.len, 0)) flagwriting = 0;
  outbuf.len = 0;
}

/* keep - add output to s->out within the limits */
static void keep(struct slot *s, const char *buf, size_t len)
{
  if (!bops) {
    size_t k = len;
    if (s->out.len + k > ops->maxoutput) {
      k = s->out.len < ops->maxoutput ? ops->maxoutput - s->out.len : 0;
      s->truncated = 1;
    }
    if (k && !sa_catb(&s->out, buf, k)) s->truncated = 1;
    return;
  }
  /* records: at most maxrecord bytes of each, at most n + 1 of them */
  while (len) {
    const char *z;
    size_t seg, k;
    if (s->nrec > s->n) { s->truncated = 1; return; }
    z = memchr(buf, 0, len);
    seg = z ? (size_t)(z - buf) : len;
    k = seg;
    if (k > bops->maxrecord - s->recl) { k = bops->maxrecord - s->recl; s->truncated = 1; }
    if (k && !sa_catb(&s->out, buf, k)) s->truncated = 1;
    else s->recl += k;
    if (!z) return;
    if (!sa_append(&s->out, 0)) s->truncated = 1;
    ++s->nrec;
    s->recl = 0;
    buf += seg + 1;
    len -= seg + 1;
  }
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
    keep(s, buf, (size_t)r);
    if ((size_t)r < sizeof buf) return 0;
  }
}

static void finish(unsigned long i)
{
  struct slot *s = &d[i];
  sa rep = SA_ZERO;
  const char *out;
  size_t k, pos = 0;

  /* the last drain may grow and so move s->out: take its address after */
  if (s->fd != -1) { drain(s); close(s->fd); s->fd = -1; }
  out = s->out.s ? s->out.s : "";
  if (bops) {
    bops->report(&rep, s->wstat, out, s->out.len, s->truncated, s->n);
    for (k = 0; k < s->n; ++k) {
      const char *z = pos < rep.len ? memchr(rep.s + pos, 0, rep.len - pos) : 0;
      if (!z) break;
      reply(i, s->ix[k], rep.s + pos, (size_t)(z - (rep.s + pos)));
      pos = (size_t)(z - rep.s) + 1;
    }
    for (; k < s->n; ++k) replys(i, s->ix[k], "Zqmail-spawn out of memory. (#4.3.0)\n");
  }
  else {
    ops->report(&rep, s->wstat, out, s->out.len, s->truncated);
    if (rep.len) reply(i, s->ix[0], rep.s, rep.len);
    else replys(i, s->ix[0], "Zqmail-spawn out of memory. (#4.3.0)\n");
  }
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
    if (i == limit && onreap) onreap(pid, wstat);
  }
}

void spawn_onreap(void (*f)(pid_t pid, int wstat)) { onreap = f; }

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

/* pick - the recipients that can run: each refused one is answered now,
 * the others go to runix and rargs; returns how many run */
static size_t pick(unsigned long n)
{
  size_t m = 0, i, dom = 0, domlen = 0;

  for (i = 0; i < want; ++i) {
    const char *r;
    size_t rlen, at;
    if (rbad[i] == 1) { replys(n, i, "DInternal error: job field too long. (#5.3.5)\n"); continue; }
    if (rbad[i]) { replys(n, i, "Zqmail-spawn out of memory. (#4.3.0)\n"); continue; }
    r = rlist.s + roff[i];
    rlen = strlen(r);
    if (!rlen) {
      replys(n, i, "DSorry, the recipient address is empty; there is no mailbox to deliver to. (#5.1.1)\n");
      continue;
    }
    at = byte_rchr(r, rlen, '@');
    if (at == rlen) { replys(n, i, "DSorry, address must include host name. (#5.1.3)\n"); continue; }
    if (m && !bops) {
      replys(n, i, "ZInternal error: this spawner takes one recipient per job. (#4.3.5)\n");
      continue;
    }
    if (m && (rlen - at - 1 != domlen || case_diffb(r + at + 1, domlen, rargs[0] + dom))) {
      replys(n, i, "ZInternal error: recipients of one job must share a domain. (#4.3.5)\n");
      continue;
    }
    if (!m) { dom = at + 1; domlen = rlen - at - 1; }
    runix[m] = i;
    rargs[m++] = (char *)r;
  }
  rargs[m] = 0;
  return m;
}

static void docmd(void)
{
  unsigned long n, i;
  const sa *messfn = &cmd.f[1], *sender = &cmd.f[2];
  struct slot *s;
  struct stat st;
  int fdmess, pi[2];
  size_t m;
  pid_t pid;

  if (!cmd.f[0].s || !spawnproto_num(&cmd.f[0], &n)) return;  /* no slot to answer */
  if (cmd.nomem) {
    for (i = 0; i < want; ++i) replys(n, i, "Zqmail-spawn out of memory. (#4.3.0)\n");
    return;
  }
  if (n >= limit || d[n].used) {
    const char *t = n >= limit ? "ZInternal error: delivery number too big. (#4.3.5)\n"
                               : "ZInternal error: delivery number in use. (#4.3.5)\n";
    for (i = 0; i < want; ++i) replys(n, i, t);
    return;
  }
  if (cmd.toolong || !messid_ok(messfn)) {
    const char *t = cmd.toolong ? "DInternal error: job field too long. (#5.3.5)\n"
                                : "DInternal error: bad message name. (#5.3.5)\n";
    for (i = 0; i < want; ++i) replys(n, i, t);
    return;
  }
  m = pick(n);
  if (!m) return;
  s = &d[n];
  {
    unsigned long *x = grow(s->ix, &s->ixa, m, sizeof *x);
    if (!x) { replyrun(n, m, "Zqmail-spawn out of memory. (#4.3.0)\n"); return; }
    s->ix = x;
  }

  fdmess = open(messfn->s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fdmess == -1) { replyrun(n, m, "Zqmail-spawn unable to open message. (#4.3.0)\n"); return; }
  if (fstat(fdmess, &st) == -1) {
    close(fdmess);
    replyrun(n, m, "Zqmail-spawn unable to fstat message. (#4.3.0)\n");
    return;
  }
  if (!S_ISREG(st.st_mode)) { close(fdmess); replyrun(n, m, "ZSorry, message has wrong type. (#4.3.5)\n"); return; }
  /* only qmail-queue writes the queue; anything else means trouble */
  if (st.st_uid != ops->messowner) {
    close(fdmess);
    replyrun(n, m, "ZSorry, message has wrong owner. (#4.3.5)\n");
    return;
  }
  if (pipe2(pi, O_CLOEXEC) == -1) {
    close(fdmess);
    replyrun(n, m, "Zqmail-spawn unable to create pipe. (#4.3.0)\n");
    return;
  }
  if (bops) pid = bops->start(fdmess, pi[1], sender->s, rargs, m);
  else pid = ops->start(fdmess, pi[1], sender->s, rargs[0], byte_rchr(rargs[0], strlen(rargs[0]), '@'));
  close(fdmess);
  close(pi[1]);
  if (pid == -1) {
    close(pi[0]);
    replyrun(n, m, "Zqmail-spawn unable to fork. (#4.3.0)\n");
    return;
  }
  fd_nonblock(pi[0]);
  memcpy(s->ix, runix, m * sizeof *runix);
  s->used = 1;
  s->pid = pid;
  s->wstat = 0;
  s->fd = pi[0];
  s->truncated = 0;
  s->out.len = 0;
  s->n = m;
  s->recl = 0;
  s->nrec = 0;
}

/* header - the job's first four fields are in; a count that cannot be
 * read leaves no way to find the next job, so the spawner gives up */
static void header(void)
{
  if (!cmd.f[3].s || !spawnproto_num(&cmd.f[3], &want) || want > SPAWNPROTO_MAXRCPT) _exit(111);
  got = 0;
  rlist.len = 0;
  inrcpts = 1;
}

/* recipient - one recipient field is in */
static void recipient(void)
{
  roff[got] = rlist.len;
  rbad[got] = rc.toolong ? 1 : rc.nomem ? 2 : 0;
  /* the field holds its NUL, so the recipients stay apart */
  if (!rbad[got] && !sa_catb(&rlist, rc.f[0].s, rc.f[0].len)) rbad[got] = 2;
  ++got;
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
    if (!inrcpts) {
      pos += spawnrd_feed(&cmd, buf + pos, (size_t)r - pos, &done);
      if (done) header();
    }
    else {
      pos += spawnrd_feed(&rc, buf + pos, (size_t)r - pos, &done);
      if (done) { recipient(); spawnrd_reset(&rc); }
    }
    if (done && inrcpts && got == want) {
      docmd();
      spawnrd_reset(&cmd);
      inrcpts = 0;
    }
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

pid_t spawn_vfork(void (*child)(int fdmess, int fdout), int fdmess, int fdout)
{
  sigset_t all, old;
  pid_t pid;
  int e;

  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid = vfork();
  if (pid == 0) child(fdmess, fdout);
  e = errno;
  sigprocmask(SIG_SETMASK, &old, 0);
  errno = e;
  return pid;
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

static int run(const spawn_ops *o, const spawn_batchops *b)
{
  static const size_t max[4] = { 20, 200, 4000, 20 };
  static const size_t rmax[1] = { 4000 };
  struct pollfd *p;
  unsigned long *map, i;
  sa hello = SA_ZERO;

  ops = o;
  bops = b;
  /* keep fd 2 taken so pipes never land there */
  if (fcntl(2, F_GETFD) == -1 && open("/dev/null", O_WRONLY) != 2) return 111;
  if (chdir(auto_home) == -1 || chdir("queue/mess") == -1) return 111;
  limit = fdlimit(ops->limit ? ops->limit : 1);
  if (!limit) limit = 1;
  d = calloc(limit, sizeof *d);
  p = calloc(limit + 2, sizeof *p);
  map = calloc(limit + 2, sizeof *map);
  roff = calloc(SPAWNPROTO_MAXRCPT, sizeof *roff);
  rbad = calloc(SPAWNPROTO_MAXRCPT, 1);
  rargs = calloc(SPAWNPROTO_MAXRCPT + 1, sizeof *rargs);
  runix = calloc(SPAWNPROTO_MAXRCPT, sizeof *runix);
  if (!d || !p || !map || !roff || !rbad || !rargs || !runix) return 111;
  if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) == -1) return 111;
  spawnrd_init(&cmd, 4, max);
  spawnrd_init(&rc, 1, rmax);
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

int spawn_main(const spawn_ops *o) { return run(o, 0); }

int spawn_main_batch(const spawn_ops *o, const spawn_batchops *b) { return run(o, b); }
