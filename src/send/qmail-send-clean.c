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

/* clean_many - clean_cmd of dir/ids[k] for each k < n, the commands
 * written together and the answers read after them, so a batch costs
 * qmail-clean one wakeup instead of n round trips; ok[k] 1 done, 0 not
 * (logged). Should qmail-clean die with commands unanswered, the files
 * tell which of them it carried out. */
void clean_many(const char *dir, const unsigned long *ids, size_t n, int *ok)
{
  char cmds[CLEAN_MANY * QFN_SIZE], ans[CLEAN_MANY], f[QFN_SIZE];
  size_t k, len = 0, got = 0;
  ssize_t r;
  struct stat st;

  if (n > CLEAN_MANY) n = CLEAN_MANY;
  for (k = 0; k < n; ++k) ok[k] = 0;
  if (!flagalive || !n) return;
  for (k = 0; k < n; ++k) len += qfn_fmt(cmds + len, dir, ids[k], 0) + 1;
  if (bio_writeall(5, cmds, len, 0))
    while (got < n) {
      r = read(6, ans + got, n - got);
      if (r == -1 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
  for (k = 0; k < got; ++k) {
    ok[k] = ans[k] == '+';
    if (!ok[k]) log_line("warning: qmail-clean unable to clean up ", queue_fn(f, dir, ids[k]), "\n", NULL);
  }
  if (got == n) return;
  lost();
  for (k = got; k < n; ++k) ok[k] = stat(queue_fn(f, dir, ids[k]), &st) == -1 && errno == ENOENT;
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
