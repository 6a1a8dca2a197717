#include <errno.h>
#include <sys/file.h>

#include "lock.h"

static int lk(int fd, int op)
{
  int r;
  do r = flock(fd, op); while (r == -1 && errno == EINTR);
  return r;
}

int lock_ex(int fd) { return lk(fd, LOCK_EX); }
int lock_exnb(int fd) { return lk(fd, LOCK_EX | LOCK_NB); }
