#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "open.h"

int open_read(const char *fn) { return open(fn, O_RDONLY | O_NONBLOCK) ; }
int open_append(const char *fn) { return open(fn, O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT, 0600); }
int open_trunc(const char *fn) { return open(fn, O_WRONLY | O_NONBLOCK | O_TRUNC | O_CREAT, 0644); }
int open_excl(const char *fn) { return open(fn, O_WRONLY | O_EXCL | O_CREAT, 0644); }
int open_excl_mode(const char *fn, int mode) { return open(fn, O_WRONLY | O_EXCL | O_CREAT, mode); }

int open_nameless(int dfd, const char *dir)
{
#ifdef O_TMPFILE
  int fd;

  if (access("/proc/self/fd", X_OK) == -1) { errno = EOPNOTSUPP; return -1; }
  fd = openat(dfd, dir, O_TMPFILE | O_WRONLY, 0644);
  /* kernels and file systems without O_TMPFILE say so in these ways */
  if (fd == -1 && (errno == EISDIR || errno == EINVAL || errno == EOPNOTSUPP)) errno = EOPNOTSUPP;
  return fd;
#else
  (void)dfd; (void)dir;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

int link_nameless(int fd, int dfd, const char *fn)
{
  /* linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH; the
   * descriptor's /proc link needs nothing */
  char proc[sizeof "/proc/self/fd/" + FMT_ULONG];
  size_t n = sizeof "/proc/self/fd/" - 1;

  memcpy(proc, "/proc/self/fd/", n);
  proc[n + fmt_ulong(proc + n, (unsigned long)fd)] = 0;
  return linkat(AT_FDCWD, proc, dfd, fn, AT_SYMLINK_FOLLOW);
}
