#include <fcntl.h>
#include <unistd.h>

#include "fd.h"

int fd_copy(int to, int from)
{
  if (to == from) return 0;
  return dup2(from, to) == -1 ? -1 : 0;
}

int fd_move(int to, int from)
{
  if (to == from) return 0;
  if (fd_copy(to, from) == -1) return -1;
  close(from);
  return 0;
}

static int setfl(int fd, int on, int off)
{
  int f = fcntl(fd, F_GETFL, 0);
  if (f == -1) return -1;
  return fcntl(fd, F_SETFL, (f | on) & ~off) == -1 ? -1 : 0;
}

int fd_nonblock(int fd) { return setfl(fd, O_NONBLOCK, 0); }
int fd_block(int fd) { return setfl(fd, 0, O_NONBLOCK); }
int fd_cloexec(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ? -1 : 0; }
int fd_keep(int fd) { return fcntl(fd, F_SETFD, 0) == -1 ? -1 : 0; }
