/* qmail-send-queue - queue file names, scans of the split directories,
 * qmail-clean's protocol (fds 5 and 6) and the slow scan of mess/ for
 * messages abandoned by a crashed qmail-queue. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
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

/* qmail-clean: "dir/id" NUL out on fd 5, one byte back on fd 6 */
int clean_cmd(const char *dir, unsigned long id)
{
  char cmd[QFN_SIZE];
  size_t n = qfn_fmt(cmd, dir, id, 0);
  char c;
  ssize_t r;

  if (!bio_writeall(5, cmd, n + 1, 0)) return 0;
  do r = read(6, &c, 1); while (r == -1 && errno == EINTR);
  return r == 1 ? c : 0;
}

/* cleanup: every SLEEP_CLEANUP seconds walk mess/, a few entries a turn,
 * and remove messages older than OSSIFIED with neither todo nor info */
static int flagcleanup;
static time_t cleanuptime;
static subdir cleanupdir;

void cleanup_init(void)
{
  flagcleanup = 0;
  cleanuptime = time(0);
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
    if (stat(fn("mess", id), &st) == -1) continue;   /* qmail-queue removed it */
    if (recent <= st.st_atime + OSSIFIED) continue;
    if (stat(fn("info", id), &st) == 0 || errno != ENOENT) continue;
    if (stat(fn("todo", id), &st) == 0 || errno != ENOENT) continue;
    switch (clean_cmd("foop", id)) {
      case 0:
        qlog("alert: oh no! lost qmail-clean connection! dying...\n", (char *)0);
        flagexitasap = 1;
        return;
      case '+': break;
      default: qlog("warning: qmail-clean unable to clean up ", fn("foop", id), "\n", (char *)0);
    }
  }
}
