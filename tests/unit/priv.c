#include <errno.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "priv.h"

/* child - run f in a child and return its exit code (-1 if it died) */
static int child(int (*f)(void))
{
  int st;
  pid_t pid = fork();
  if (pid == -1) return -1;
  if (pid == 0) _exit(f());
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

/* drop - as root: every id and the group list become nobody's, for good */
static int drop(void)
{
  gid_t g[4];
  if (!priv_drop(65534, 65533)) return 1;
  if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65533 || getegid() != 65533) return 2;
  if (getgroups(4, g) != 1 || g[0] != 65533) return 3;
  if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1) return 4;
  return 0;
}

/* refused - not root: the drop fails and says so */
static int refused(void)
{
  errno = 0;
  if (priv_drop(getuid() + 1, getgid() + 1)) return 1;
  return errno == EPERM ? 0 : 2;
}

/* dropuser - as root, with a name that has no groups of its own: only gid */
static int dropuser(void)
{
  gid_t g[4];
  int n;
  if (!priv_dropuser("priv-unit-no-such-user", 65534, 65533)) return 1;
  if (getuid() != 65534 || geteuid() != 65534 || getegid() != 65533) return 2;
  n = getgroups(4, g);
  if (n != 1 || g[0] != 65533) return 3;
  return setuid(0) != -1 ? 4 : 0;
}

/* toroot - priv_drop to uid 0 keeps root and sets only the group */
static int toroot(void)
{
  if (!priv_drop(0, 65533)) return 1;
  return getuid() == 0 && geteuid() == 0 && getegid() == 65533 ? 0 : 2;
}

TEST(priv_drop_verified)
{
  if (geteuid() != 0) { CHECK(child(refused) == 0); return; }
  CHECK(child(drop) == 0);
  CHECK(child(dropuser) == 0);
  CHECK(child(toroot) == 0);
}
