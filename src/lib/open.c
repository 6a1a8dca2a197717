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
  static int proc = -1;   /* /proc/self/fd there: looked at once a process */
  int fd;

  if (proc == -1) proc = access("/proc/self/fd", X_OK) == 0;
  if (!proc) { errno = EOPNOTSUPP; return -1; }
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
  char proc[sizeof "/proc/self/fd/" + FMT_ULONG];
  size_t n = sizeof "/proc/self/fd/" - 1;

#ifdef AT_EMPTY_PATH
  /* Linux 6.10 and later let the one who opened the file link it by its
   * descriptor; before, that needs CAP_DAC_READ_SEARCH and says ENOENT
   * (EPERM, as from a security module or a seccomp filter, is taken the
   * same way). The /proc link below needs nothing but a lookup through
   * /proc, which costs more. */
  if (linkat(fd, "", dfd, fn, AT_EMPTY_PATH) == 0) return 0;
  if (errno != ENOENT && errno != EPERM) return -1;
#endif
  memcpy(proc, "/proc/self/fd/", n);
  proc[n + fmt_ulong(proc + n, (unsigned long)fd)] = 0;
  return linkat(AT_FDCWD, proc, dfd, fn, AT_SYMLINK_FOLLOW);
}
