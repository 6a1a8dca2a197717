/* qmail-smtpd-rcpt.c - the recipient check at RCPT time.
 * A recipient that qmail-send's rewriting (rewrite_rcpt, with the same
 * control/locals, percenthack, virtualdomains and envnoathost) makes
 * local is decided, as rewritten, by rcptcheck() (rcptcheck.c, delivery's
 * own lookup code) here in the process when users/cdb answers or when
 * /etc/passwd gives what getpwnam would (pwfiles.c: nsswitch.conf names
 * files first and the account is there); otherwise bin/qmail-rcptcheck
 * (the same function with getpw_answer, through NSS) decides and answers
 * by its exit code. A remote recipient is not checked. The helper runs
 * as we do (qmaild), with /dev/null on fd 0 (never the client's
 * connection) and a pipe on fd 1 that tells us when it is done; after
 * RCPTCHECK_WAIT seconds it is killed and the answer is "cannot tell
 * now". */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "qmail-smtpd.h"
#include "pwfiles.h"
#include "rcptcheck.h"
#include "auto.h"
#include "cmap.h"
#include "control.h"
#include "fd.h"
#include "rewrite.h"
#include "say.h"
#include "scan.h"
#include "sig.h"
#include "waitchild.h"

#define RCPTCHECK_WAIT 60

static int enabled;
static sa noathost = SA_ZERO, rewritten = SA_ZERO, why = SA_ZERO;
static cmap locals = CMAP_ZERO, pct = CMAP_ZERO, vdoms = CMAP_ZERO;

static noreturn void die_home(void) { out("421 unable to switch to my home directory (#4.3.0)\r\n"); smtpd_close(); }

int rcpt_setup(const char *me)
{
  unsigned long u = 1, v;
  const char *x;
  sa host = SA_ZERO;

  if (control_readnum(&u, "control/rcptcheck", control_warn2) == -1) return 0;
  x = getenv("RCPTCHECK");
  if (x && *x && x[scan_ulong(x, &v)] == 0) u = v;
  enabled = u != 0;
  if (!enabled) return 1;
  if (control_rldef(&noathost, "control/envnoathost", me) == -1 || !sa_0(&noathost)) return 0;
  if (!sa_copys(&host, me)) return 0;
  if (!rewrite_readmaps(&locals, &pct, &vdoms, &host)) return 0;
  sa_free(&host);
  return 1;
}

/* ask - run qmail-rcptcheck for the rewritten address; its verdict */
static int ask(const char *address)
{
  char *args[4];
  struct pollfd p;
  struct timespec t0, t1;
  int pi[2], null, wstat, r;
  long left;
  char c;
  pid_t pid;

  if (pipe2(pi, O_CLOEXEC) == -1) return RCPT_TEMP;
  pid = vfork();   /* the child only moves fds and execs: nothing of ours to copy */
  if (pid == -1) { close(pi[0]); close(pi[1]); return RCPT_TEMP; }
  if (pid == 0) {
    null = open("/dev/null", O_RDONLY);
    if (null == -1 || fd_move(0, null) == -1 || fd_copy(1, pi[1]) == -1) _exit(111);
    sig_default(SIGPIPE);
    args[0] = "bin/qmail-rcptcheck";
    args[1] = "--";
    args[2] = (char *)address;
    args[3] = 0;
    execv(args[0], args);
    _exit(111);
  }
  close(pi[1]);
  left = RCPTCHECK_WAIT * 1000L;
  /* the pipe reaches end of file when the helper exits */
  p.fd = pi[0];
  p.events = POLLIN;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    r = poll(&p, 1, (int)left);
    if (r == 1) {
      ssize_t n = read(pi[0], &c, 1);
      if (n == 0) break;
      if (n == 1) continue;                  /* it may not talk: ignore */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    left = RCPTCHECK_WAIT * 1000L - (t1.tv_sec - t0.tv_sec) * 1000L - (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    if (r == 0 || left <= 0) { kill(pid, SIGKILL); break; }
  }
  close(pi[0]);
  if (wait_pid(pid, &wstat) == -1) return RCPT_TEMP;
  if (!WIFEXITED(wstat)) return RCPT_TEMP;
  switch (WEXITSTATUS(wstat)) {
    case 0: return RCPT_OK;
    case 100: return RCPT_UNKNOWN;
  }
  return RCPT_TEMP;
}

int rcpt_check(const char *addr, size_t len)
{
  rewrite_ctl rc;
  int r;

  if (!enabled) return RCPT_OK;
  rc.envnoathost = noathost.s;
  rc.percenthack = &pct;
  rc.locals = &locals;
  rc.vdoms = &vdoms;
  r = rewrite_rcpt(&rewritten, addr, len, &rc);
  if (!r) die_nomem();
  if (r != REWRITE_LOCAL) return RCPT_OK;
  if (!sa_0(&rewritten)) die_nomem();
  r = rcptcheck(rewritten.s, rewritten.len - 1, pwfiles_answer, &why);   /* without the NUL */
  /* rcptcheck may have entered the user's home; qmail-queue and the
   * helper are run from ours */
  if (chdir(auto_home) == -1) die_home();
  switch (r) {
    case RCPTCHECK_OK: return RCPT_OK;
    case RCPTCHECK_NOMAILBOX: return RCPT_UNKNOWN;
    case RCPTCHECK_NEEDPW: return ask(rewritten.s);
  }
  /* the helper's log line, word for word */
  say(2, why.len ? why.s : RCPTCHECK_NOMEM, NULL);
  return RCPT_TEMP;
}
