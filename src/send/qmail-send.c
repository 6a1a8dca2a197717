/* qmail-send - deliver the messages in the queue (qmail-send(8)).
 * Started by qmail-start as qmails: the log on fd 0, qmail-lspawn on fds
 * 1/2, qmail-rspawn on 3/4, qmail-clean on 5/6. One poll() loop; each turn
 * reads delivery reports, starts every delivery the concurrency allows,
 * then does a bounded amount of todo/ preprocessing and cleanup, so no
 * kind of work can starve another. Signals only set flags: ALRM retries
 * everything now, HUP rereads locals, virtualdomains, percenthack and the
 * concurrency limits, TERM finishes the deliveries in progress and exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "control.h"
#include "fd.h"
#include "lock.h"
#include "rewrite.h"
#include "sig.h"
#include "spawnproto.h"
#include "qmail-send.h"

static send_controls ctl = {
  604800, { 10, 20 }, REMOTEBATCH, SA_ZERO, SA_ZERO, SA_ZERO, SA_ZERO,
  CMAP_ZERO, CMAP_ZERO, CMAP_ZERO
};
static time_t recent;
static int flagexitasap;
static sa me = SA_ZERO;
static int flagmefallback;
static int flagrunasap, flagreadasap;
static int selfpipe[2] = { -1, -1 };
static unsigned long spawnlimit[CHANNELS];

const send_controls *send_ctl(void) { return &ctl; }
time_t send_now(void) { return recent; }
int send_exiting(void) { return flagexitasap; }
void send_exit(void) { flagexitasap = 1; }

long send_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(void)
{
  int e = errno;
  if (write(selfpipe[1], "", 1) == -1) { /* a wakeup is already pending */ }
  errno = e;
}
static void sigterm(int s) { (void)s; flagexitasap = 1; wake(); }
static void sigalrm(int s) { (void)s; flagrunasap = 1; wake(); }
static void sighup(int s) { (void)s; flagreadasap = 1; wake(); }

/* rldef - a one-line control file, with a default when missing or empty */
static int rldef(sa *out, const char *f, const char *def)
{
  if (control_rldef(out, f, def) == -1) return 0;
  return sa_0(out) && (--out->len, 1);
}

/* readmaps - locals (default: me), percenthack, virtualdomains */
static int readmaps(cmap *locals, cmap *pct, cmap *vd)
{
  return rewrite_readmaps(locals, pct, vd, &me);
}

/* badnum - a numeric control file that holds no number: say so, go on
 * with the default */
static void badnum(const char *f, const char *value)
{
  log_line("warning: ", f, " holds `", LOG_SAFE, value, "', which is not a number; using the default\n", NULL);
}

/* readconcurrency - concurrencylocal, concurrencyremote and remotebatch */
static int readconcurrency(unsigned long *c, unsigned long *batch)
{
  c[0] = 10;
  c[1] = 20;
  *batch = REMOTEBATCH;
  if (control_readnum(&c[0], "control/concurrencylocal", badnum) == -1) return 0;
  if (control_readnum(&c[1], "control/concurrencyremote", badnum) == -1) return 0;
  if (control_readnum(batch, "control/remotebatch", badnum) == -1) return 0;
  if (c[0] > auto_spawn) c[0] = auto_spawn;
  if (c[1] > auto_spawn) c[1] = auto_spawn;
  if (*batch < 1) *batch = 1;
  if (*batch > SPAWNPROTO_MAXRCPT) *batch = SPAWNPROTO_MAXRCPT;
  return 1;
}

static int getcontrols(void)
{
  sa host = SA_ZERO;
  int r = control_me(&me);

  if (r == -1) return 0;
  flagmefallback = r == 2;
  if (!sa_0(&me)) return 0;
  --me.len;
  if (control_readnum(&ctl.lifetime, "control/queuelifetime", badnum) == -1) return 0;
  if (!readconcurrency(ctl.concurrency, &ctl.remotebatch)) return 0;
  if (!rldef(&ctl.envnoathost, "control/envnoathost", me.s)) return 0;
  if (!rldef(&ctl.bouncefrom, "control/bouncefrom", "MAILER-DAEMON")) return 0;
  if (!rldef(&ctl.bouncehost, "control/bouncehost", me.s)) return 0;
  if (!rldef(&host, "control/doublebouncehost", me.s)) return 0;
  if (!rldef(&ctl.doublebounceto, "control/doublebounceto", "postmaster")) return 0;
  if (!sa_append(&ctl.doublebounceto, '@') || !sa_cat(&ctl.doublebounceto, &host)
      || !sa_0(&ctl.doublebounceto)) return 0;
  --ctl.doublebounceto.len;
  sa_free(&host);
  return readmaps(&ctl.locals, &ctl.percenthack, &ctl.vdoms);
}

static void reread(void)
{
  cmap l, p, v;
  unsigned long c[CHANNELS], batch;

  if (chdir(auto_home) == -1) {
    log_line("alert: unable to reread controls: unable to switch to home directory\n", NULL);
    return;
  }
  if (!readmaps(&l, &p, &v)) log_line("alert: unable to reread control/locals\n", NULL);
  else {
    cmap_free(&ctl.locals); ctl.locals = l;
    cmap_free(&ctl.percenthack); ctl.percenthack = p;
    cmap_free(&ctl.vdoms); ctl.vdoms = v;
  }
  if (!readconcurrency(c, &batch)) log_line("alert: unable to reread control/concurrencylocal\n", NULL);
  else {
    ctl.concurrency[0] = c[0];
    ctl.concurrency[1] = c[1];
    ctl.remotebatch = batch;
    del_setconcurrency(c);
  }
  while (chdir("queue") == -1) {
    log_line("alert: unable to switch back to queue directory; HELP! sleeping...\n", NULL);
    sleep(10);
  }
  del_status();
}

/* hello - the spawner's concurrency limit, the first thing it says */
static int hello(int fd, unsigned long *limit)
{
  static const size_t max[1] = { 20 };
  spawnrd r;
  char c;
  int done = 0;

  spawnrd_init(&r, 1, max);
  while (!done) {
    ssize_t n = read(fd, &c, 1);
    if (n == -1 && errno == EINTR) continue;
    if (n != 1) return 0;
    spawnrd_feed(&r, &c, 1, &done);
  }
  done = !r.nomem && !r.toolong && spawnproto_num(&r.f[0], limit);
  spawnrd_free(&r);
  return done;
}

static void loop(void)
{
  struct pollfd p[POLLMAX];
  char buf[64];

  while (!flagexitasap || !del_canexit()) {
    time_t wakeup;
    nfds_t n = 0;
    long ms;

    recent = time(0);
    if (flagrunasap) { flagrunasap = 0; sched_runall(); clean_sweep_now(); }
    if (flagreadasap) { flagreadasap = 0; reread(); }

    wakeup = recent + SLEEP_FOREVER;
    p[n].fd = selfpipe[0]; p[n].events = POLLIN; p[n].revents = 0; ++n;
    todo_poll(p, &n, &wakeup);
    clean_poll(p, &n);
    del_poll(p, &n, &wakeup);
    if (!flagexitasap) {
      sched_wakeup(&wakeup);
      clean_sweep_wakeup(&wakeup);
    }

    if (wakeup <= recent) ms = 0;
    else if (wakeup - recent > SLEEP_FOREVER) ms = SLEEP_FOREVER * 1000L;
    else ms = (long)(wakeup - recent) * 1000;
    mark_timeout(&ms);
    todo_timeout(&ms);
    if (poll(p, n, (int)ms) == -1) {
      if (errno != EINTR) log_line("warning: trouble in select\n", NULL);
      continue;
    }
    recent = time(0);
    if (p[0].revents) while (read(selfpipe[0], buf, sizeof buf) > 0) ;
    clean_polled(p);                /* before anything is scheduled */
    del_do(p);
    todo_do(p);
    del_startall();                 /* what todo_do found goes out now */
    sched_do();
    if (!flagexitasap) clean_sweep_do();
  }
}

int main(void)
{
  int fd, c;

  if (chdir(auto_home) == -1) {
    log_line("alert: cannot start: unable to switch to home directory\n", NULL);
    _exit(111);
  }
  if (!getcontrols()) {
    log_line("alert: cannot start: unable to read controls\n", NULL);
    _exit(111);
  }
  if (chdir("queue") == -1) {
    log_line("alert: cannot start: unable to switch to queue directory\n", NULL);
    _exit(111);
  }
  if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) == -1) {
    log_line("alert: cannot start: unable to create pipe\n", NULL);
    _exit(111);
  }
  sig_ignore(SIGPIPE);
  sig_catch(SIGTERM, sigterm);
  sig_catch(SIGALRM, sigalrm);
  sig_catch(SIGHUP, sighup);
  sig_default(SIGCHLD);
  umask(077);
  /* qmail-queue, run for bounces, must not inherit the daemons' pipes */
  for (c = 0; c <= 6; ++c) fd_cloexec(c);

  fd = open("lock/sendmutex", O_WRONLY | O_CLOEXEC);
  if (fd == -1) {
    log_line("alert: cannot start: unable to open mutex\n", NULL);
    _exit(111);
  }
  if (lock_exnb(fd) == -1) {
    log_line("alert: cannot start: qmail-send is already running\n", NULL);
    _exit(111);
  }
  for (c = 0; c < CHANNELS; ++c)
    if (!hello(2 + 2 * c, &spawnlimit[c])) {
      log_line("alert: cannot start: hath the daemon spawn no fire?\n", NULL);
      _exit(111);
    }
  if (flagmefallback)
    log_line("warning: control/me is missing or empty; using the host name ", LOG_SAFE, me.s, "\n", NULL);

  recent = time(0);
  sched_start();
  del_init(spawnlimit);
  todo_init();
  clean_sweep_init();
  loop();
  mark_flush(1);
  todo_exit();
  sched_finish();
  log_line("status: exiting\n", NULL);
  _exit(0);
}
