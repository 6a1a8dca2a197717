#include <errno.h>
#include <poll.h>
#include <time.h>

#include "timeoutconn.h"
#include "fd.h"

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int timeoutconn(int fd, const struct sockaddr *sa, socklen_t len, unsigned timeout)
{
  struct pollfd p;
  long long end, left;
  int r, e;
  socklen_t elen;

  if (!timeout) timeout = 1;
  if (timeout > 86400) timeout = 86400;
  if (fd_nonblock(fd) == -1) return -1;
  if (connect(fd, sa, len) == 0) return fd_block(fd);
  if (errno != EINPROGRESS && errno != EINTR) return -1;
  end = now_ms() + (long long)timeout * 1000;
  for (;;) {
    left = end - now_ms();
    if (left <= 0) { errno = ETIMEDOUT; return -1; }
    p.fd = fd;
    p.events = POLLOUT;
    p.revents = 0;
    r = poll(&p, 1, (int)left);
    if (r == -1) { if (errno == EINTR) continue; return -1; }
    if (r == 0) { errno = ETIMEDOUT; return -1; }
    break;
  }
  elen = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1) return -1;
  if (e) { errno = e; return -1; }
  return fd_block(fd);
}
