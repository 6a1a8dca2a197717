#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixsock.h"

/* address - path as a UNIX address, 0 with ENAMETOOLONG when it does not fit */
static int address(struct sockaddr_un *sun, const char *path)
{
  size_t n = strlen(path);
  if (n >= sizeof sun->sun_path) { errno = ENAMETOOLONG; return 0; }
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path, path, n + 1);
  return 1;
}

static int fail(int s, const char **step, const char *what)
{
  int e = errno;
  if (s != -1) close(s);
  *step = what;
  errno = e;
  return -1;
}

int unixsock_listen(const char *path, uid_t uid, gid_t gid, mode_t mode, int backlog, const char **step)
{
  struct sockaddr_un sun;
  mode_t old;
  int s, r;

  if (!address(&sun, path)) return fail(-1, step, "bind");
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s == -1) return fail(-1, step, "make a socket for");
  if (unlink(path) == -1 && errno != ENOENT) return fail(s, step, "remove");
  old = umask(077);                     /* nobody can connect before the chown */
  r = bind(s, (struct sockaddr *)&sun, sizeof sun);
  umask(old);
  if (r == -1) return fail(s, step, "bind");
  if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) == -1) return fail(s, step, "chown");
  if (chmod(path, mode) == -1) return fail(s, step, "chmod");
  if (listen(s, backlog) == -1) return fail(s, step, "listen on");
  return s;
}

int unixsock_connect(const char *path, const char **step)
{
  struct sockaddr_un sun;
  int s;

  if (!address(&sun, path)) return fail(-1, step, "connect to");
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s == -1) return fail(-1, step, "make a socket for");
  if (connect(s, (struct sockaddr *)&sun, sizeof sun) == -1) return fail(s, step, "connect to");
  return s;
}

int unixsock_peerok(int c, uid_t uid)
{
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) return 0;
  return cr.uid == uid || cr.uid == 0;
}
