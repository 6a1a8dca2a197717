/* qmail-send-queue - queue file names, scans of the split directories,
 * qmail-clean's protocol (fds 5 and 6) and the slow scan of mess/ for
 * messages abandoned by a crashed qmail-queue. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
#include "lock.h"
#include "open.h"
#include "qmail-send.h"

static char fnbuf[QFN_SIZE];
static char fnbuf2[QFN_SIZE];

static int splitdir(const char *dir)
{
  return strcmp(dir, "todo") && strcmp(dir, "intd") && strcmp(dir, "bounce")
      && strcmp(dir, "foop") && strcmp(dir, "done");
}

const char *fn(const char *dir, unsigned long id)
{
  qfn_fmt(fnbuf, dir, id, splitdir(dir));
  return fnbuf;
}

const char *fn2(const char *dir, unsigned long id)
{
  qfn_fmt(fnbuf2, dir, id, splitdir(dir));
  return fnbuf2;
}

void subdir_init(subdir *s, const char *name)
{
  s->name = name;
  s->sub = 0;
  s->dir = 0;
}

int subdir_next(subdir *s, unsigned long *id)
{
  struct dirent *e;

  for (;;) {
    if (!s->dir) {
      char num[FMT_ULONG];
      if (s->sub >= auto_split) return 0;
      if (strlen(s->name) + FMT_ULONG + 2 > sizeof s->path) return 0;
      strcpy(s->path, s->name);
      strcat(s->path, "/");
      strcat(s->path, ulstr(num, s->sub));
      while (!(s->dir = opendir(s->path))) pausedir(s->path);
    }
    e = readdir(s->dir);
    if (!e) {
      closedir(s->dir);
      s->dir = 0;
      ++s->sub;
      continue;
    }
    if (qfn_id(e->d_name, id)) return 1;
  }
}

/* mess_unlocked - qmail-queue holds a lock on mess/N/id until it has
 * decided the message's fate; 1 no lock (st: the file), 0 still locked,
 * -1 (errno) no such file or trouble */
int mess_unlocked(unsigned long id, struct stat *st)
{
  int fd = open_read(fn("mess", id));
  int r, e;

  if (fd == -1) return -1;
  if (lock_exnb(fd) == -1) {
    e = errno;
    close(fd);
    errno = e;
    return e == EWOULDBLOCK || e == EAGAIN ? 0 : -1;
  }
  r = fstat(fd, st) == -1 ? -1 : 1;
  e = errno;
  close(fd);           /* the lock goes with it */
  errno = e;
  return r;
}

/* qmail-clean: "dir/id" NUL out on fd 5, one byte back on fd 6. The one
 * place that learns qmail-clean is gone is clean_lost: from then on no
 * queue file can be removed, so nothing more is scheduled; what is in
 * progress finishes, the messages held in memory are committed for good
 * (todo_exit) and qmail-send exits. */
int flagcleanalive = 1;

void clean_lost(void)
{
  if (!flagcleanalive) return;
  qlog("alert: oh no! lost qmail-clean connection! dying...\n", NULL);
  flagcleanalive = 0;
  flagexitasap = 1;
}

static int clean_cmd(const char *dir, unsigned long id)
{
  char cmd[QFN_SIZE];
  size_t n = qfn_fmt(cmd, dir, id, 0);
  char c;
  ssize_t r;

  if (!bio_writeall(5, cmd, n + 1, 0)) return 0;
  do r = read(6, &c, 1); while (r == -1 && errno == EINTR);
  return r == 1 ? c : 0;
}

int clean_do(const char *dir, unsigned long id)
{
  int r;

  if (!flagcleanalive) return 0;
  r = clean_cmd(dir, id);
  if (r == '+') return 1;
  if (!r) clean_lost();
  else qlog("warning: qmail-clean unable to clean up ", fn(dir, id), "\n", NULL);
  return 0;
}

void clean_prep(struct pollfd *p, nfds_t *n, int *idx)
{
  *idx = -1;
  if (!flagcleanalive) return;
  *idx = (int)*n;
  p[*n].fd = 6; p[*n].events = POLLIN; p[*n].revents = 0; ++*n;
}

/* clean_check - qmail-clean speaks only when spoken to: fd 6 ready
 * between commands means it has gone (EOF) or gone mad */
void clean_check(const struct pollfd *p, int idx)
{
  if (idx != -1 && p[idx].revents) clean_lost();
}

/* cleanup: at start, on SIGALRM and every SLEEP_CLEANUP seconds walk
 * mess/, a few entries a turn, and remove messages that qmail-queue gave
 * up on: no info, no todo, and no longer locked by a qmail-queue */
static int flagcleanup;
static time_t cleanuptime;
static subdir cleanupdir;

void cleanup_init(void)
{
  flagcleanup = 0;
  cleanuptime = time(0);
}

void cleanup_now(void)
{
  if (!flagcleanup) cleanuptime = 0;
}

void cleanup_prep(time_t *wakeup)
{
  if (flagcleanup) *wakeup = 0;
  if (*wakeup > cleanuptime) *wakeup = cleanuptime;
}

void cleanup_do(void)
{
  unsigned long id;
  struct stat st;
  int k;

  if (flagexitasap) return;
  if (!flagcleanup) {
    if (recent < cleanuptime) return;
    subdir_init(&cleanupdir, "mess");
    flagcleanup = 1;
  }
  for (k = 0; k < 64; ++k) {
    if (!subdir_next(&cleanupdir, &id)) {
      flagcleanup = 0;
      cleanuptime = recent + SLEEP_CLEANUP;
      return;
    }
    if (todo_mem(id)) continue;
    if (stat(fn("info", id), &st) == 0 || errno != ENOENT) continue;
    /* the lock first: a qmail-queue that lets go after our look at
     * todo/ may have linked it just before */
    if (mess_unlocked(id, &st) != 1) continue;
    if (stat(fn("todo", id), &st) == 0 || errno != ENOENT) continue;
    if (stat(fn("info", id), &st) == 0 || errno != ENOENT) continue;
    qlog("warning: removing ", fn("mess", id), ", abandoned by qmail-queue\n", NULL);
    if (!clean_do("foop", id)) return;
  }
}
