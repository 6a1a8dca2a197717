/* qmail-send-mark - a finished recipient's T becomes D in place, with
 * pwrite at its offset. The marks are fsynced together by mark_flush,
 * MARK_DELAY ms after the first of them at the latest; a crash before
 * that repeats those deliveries, never loses them. The recipients of one
 * delivery share a file: one open, one fsync. The marks of a message that
 * is not committed yet (todo/id still there) go into memory, and into
 * the file with it at its commit: a crash preprocesses the whole message
 * again anyway. */
#include <fcntl.h>
#include <unistd.h>

#include "qmail-send.h"

#define MARKMAX 256
#define MARK_DELAY 50        /* ms */

/* one recipient list with unflushed marks */
struct mark {
  int fd;
  unsigned long id;
  int c;
};

static struct mark marks[MARKMAX];
static size_t nummarks;
static long marktime;        /* when the first unflushed mark was made */

static void trouble(int c, unsigned long id)
{
  char f[QFN_SIZE];
  log_line("warning: trouble marking ", queue_fn(f, queue_chan(c), id),
           "; message will be delivered twice!\n", NULL);
}

void mark_flush(int force)
{
  size_t i;
  if (!nummarks) return;
  if (!force && nummarks < MARKMAX && send_ms() - marktime < MARK_DELAY) return;
  for (i = 0; i < nummarks; ++i) {
    if (fsync(marks[i].fd) == -1) trouble(marks[i].c, marks[i].id);
    close(marks[i].fd);
  }
  nummarks = 0;
}

void mark_drop(int c, unsigned long id)
{
  size_t i;
  for (i = 0; i < nummarks; ++i)
    if (marks[i].id == id && marks[i].c == c) {
      close(marks[i].fd);
      marks[i] = marks[--nummarks];
      return;
    }
}

void mark_timeout(long *ms)
{
  long left;
  if (!nummarks) return;
  left = marktime + MARK_DELAY - send_ms();
  if (left < 0) left = 0;
  if (left < *ms) *ms = left;
}

void mark_done(int c, unsigned long id, off_t pos)
{
  char f[QFN_SIZE];
  size_t i;
  int fd;
  todo_msg *m = todo_find(id);

  if (m) {
    todo_mark(m, c, pos);
    return;
  }
  for (i = nummarks; i-- > 0;)
    if (marks[i].id == id && marks[i].c == c) {
      if (pwrite(marks[i].fd, "D", 1, pos) != 1) trouble(c, id);
      return;
    }
  if (nummarks == MARKMAX) mark_flush(1);
  fd = open(queue_fn(f, queue_chan(c), id), O_WRONLY | O_CLOEXEC);
  if (fd != -1) {
    if (pwrite(fd, "D", 1, pos) == 1) {
      if (!nummarks) marktime = send_ms();
      marks[nummarks].fd = fd;
      marks[nummarks].id = id;
      marks[nummarks++].c = c;
      return;
    }
    close(fd);
  }
  trouble(c, id);
}
