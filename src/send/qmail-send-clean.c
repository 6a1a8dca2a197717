/* qmail-send-clean - qmail-clean's protocol (fds 5 and 6) and the slow
 * scan of mess/ for messages abandoned by a crashed qmail-queue.
 * lost() is the one place that learns qmail-clean is gone: from then on
 * no queue file can be removed, so nothing more is scheduled; what is in
 * progress finishes, the messages held in memory are committed for good
 * (todo_exit) and qmail-send exits. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "qmail-send.h"

static int flagalive = 1;
static int pollidx = -1;

static void lost(void)
{
  if (!flagalive) return;
  log_line("alert: oh no! lost qmail-clean connection! dying...\n", NULL);
  flagalive = 0;
  send_exit();
}

int clean_alive(void)
{
  return flagalive;
}

/* command - "dir/id" NUL out on fd 5, one byte back on fd 6; 0 nothing */
static int command(const char *dir, unsigned long id)
{
  char cmd[QFN_SIZE];
  size_t n = qfn_fmt(cmd, dir, id, 0);
  char c;
  ssize_t r;

  if (!bio_writeall(5, cmd, n + 1, 0)) return 0;
  do r = read(6, &c, 1); while (r == -1 && errno == EINTR);
  return r == 1 ? c : 0;
}

int clean_cmd(const char *dir, unsigned long id)
{
  char f[QFN_SIZE];
  int r;

  if (!flagalive) return 0;
  r = command(dir, id);
  if (r == '+') return 1;
  if (!r) lost();
  else log_line("warning: qmail-clean unable to clean up ", queue_fn(f, dir, id), "\n", NULL);
  return 0;
}

void clean_poll(struct pollfd *p, nfds_t *n)
{
  pollidx = -1;
  if (!flagalive) return;
  pollidx = (int)*n;
  p[*n].fd = 6; p[*n].events = POLLIN; p[*n].revents = 0; ++*n;
}

/* clean_polled - qmail-clean speaks only when spoken to: fd 6 ready
 * between commands means it has gone (EOF) or gone mad */
void clean_polled(const struct pollfd *p)
{
  if (pollidx != -1 && p[pollidx].revents) lost();
}

/* the sweep: at start, on SIGALRM and every SLEEP_CLEANUP seconds walk
 * mess/, a few entries a turn, and remove messages that qmail-queue gave
 * up on: no info, no todo, and no longer locked by a qmail-queue */
static int flagsweep;
static time_t sweeptime;
static queue_scan sweepdir;

void clean_sweep_init(void)
{
  flagsweep = 0;
  sweeptime = time(0);
}

void clean_sweep_now(void)
{
  if (!flagsweep) sweeptime = 0;
}

void clean_sweep_wakeup(time_t *wakeup)
{
  if (flagsweep) *wakeup = 0;
  if (*wakeup > sweeptime) *wakeup = sweeptime;
}

void clean_sweep_do(void)
{
  char f[QFN_SIZE];
  unsigned long id;
  struct stat st;
  int k;

  if (send_exiting()) return;
  if (!flagsweep) {
    if (send_now() < sweeptime) return;
    queue_scan_init(&sweepdir, "mess");
    flagsweep = 1;
  }
  for (k = 0; k < 64; ++k) {
    if (!queue_scan_next(&sweepdir, &id)) {
      flagsweep = 0;
      sweeptime = send_now() + SLEEP_CLEANUP;
      return;
    }
    if (todo_find(id)) continue;
    if (stat(queue_fn(f, "info", id), &st) == 0 || errno != ENOENT) continue;
    /* the lock first: a qmail-queue that lets go after our look at
     * todo/ may have linked it just before */
    if (queue_unlocked(id, &st) != 1) continue;
    if (stat(queue_fn(f, "todo", id), &st) == 0 || errno != ENOENT) continue;
    if (stat(queue_fn(f, "info", id), &st) == 0 || errno != ENOENT) continue;
    log_line("warning: removing ", queue_fn(f, "mess", id), ", abandoned by qmail-queue\n", NULL);
    if (!clean_cmd("foop", id)) return;
  }
}
