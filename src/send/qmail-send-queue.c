/* qmail-send-queue - queue file names, scans of the split directories,
 * the lock qmail-queue holds on a message it has not decided on yet, and
 * a message's sender and birth. Names go into the caller's buffer, so
 * two of them can be live in one log line. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
#include "lock.h"
#include "open.h"
#include "qmail-send.h"

static const char *const chandir[CHANNELS] = { "local", "remote" };

static int splitdir(const char *dir)
{
  return strcmp(dir, "todo") && strcmp(dir, "intd") && strcmp(dir, "bounce")
      && strcmp(dir, "foop") && strcmp(dir, "done");
}

const char *queue_fn(char *buf, const char *dir, unsigned long id)
{
  qfn_fmt(buf, dir, id, splitdir(dir));
  return buf;
}

const char *queue_chan(int c)
{
  return chandir[c];
}

void queue_scan_init(queue_scan *s, const char *name)
{
  s->name = name;
  s->sub = 0;
  s->dir = 0;
}

int queue_scan_next(queue_scan *s, unsigned long *id)
{
  struct dirent *e;

  for (;;) {
    if (!s->dir) {
      char num[FMT_ULONG];
      if (s->sub >= auto_split) return 0;
      if (strlen(s->name) + FMT_ULONG + 2 > sizeof s->path) return 0;
      strcpy(s->path, s->name);
      strcat(s->path, "/");
      strcat(s->path, log_ul(num, s->sub));
      while (!(s->dir = opendir(s->path))) log_pausedir(s->path);
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

/* queue_unlocked - qmail-queue holds a lock on mess/N/id until it has
 * decided the message's fate; 1 no lock (st: the file), 0 still locked,
 * -1 (errno) no such file or trouble */
int queue_unlocked(unsigned long id, struct stat *st)
{
  char f[QFN_SIZE];
  int fd = open_read(queue_fn(f, "mess", id));
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

int queue_info(unsigned long id, sa *sender, time_t *birth)
{
  char buf[512], f[QFN_SIZE];
  struct stat st;
  bio b;
  int fd, r;
  const todo_msg *m = todo_find(id);

  if (m) return todo_info(m, sender, birth);
  fd = open_read(queue_fn(f, "info", id));
  if (fd == -1) return 0;
  if (fstat(fd, &st) == -1) { close(fd); return 0; }
  bio_init(&b, fd, buf, sizeof buf);
  sender->len = 0;
  r = bio_getln(&b, sender, 0, RECORDMAX);
  close(fd);
  if (r != 1 || sender->s[0] != 'F') return 0;
  /* drop the F, keep the NUL */
  memmove(sender->s, sender->s + 1, sender->len - 1);
  --sender->len;
  *birth = st.st_mtime;
  return 1;
}
