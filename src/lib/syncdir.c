#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syncdir.h"

int syncdir(const char *dir)
{
  int fd, r, e;

  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) return -1;
  r = fsync(fd);
  e = errno;
  close(fd);
  errno = e;
  return r;
}

/* syncdir_of - fsync the directory part of fn; a long one goes to the heap */
int syncdir_of(const char *fn)
{
  const char *slash = strrchr(fn, '/');
  char buf[256], *dir = buf;
  size_t n;
  int r, e;

  if (!slash) return syncdir(".");
  if (slash == fn) return syncdir("/");
  n = (size_t)(slash - fn);     /* n < strlen(fn): n + 1 cannot overflow */
  if (n >= sizeof buf) {
    dir = malloc(n + 1);
    if (!dir) { errno = ENOMEM; return -1; }
  }
  memcpy(dir, fn, n);
  dir[n] = 0;
  r = syncdir(dir);
  e = errno;
  if (dir != buf) free(dir);
  errno = e;
  return r;
}
