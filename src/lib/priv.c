#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "priv.h"

/* check - the ids are uid and gid, and root is gone unless uid is 0 */
static int check(uid_t uid, gid_t gid)
{
  if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
    errno = EPERM;
    return 0;
  }
  if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) { errno = EPERM; return 0; }
  return 1;
}

int priv_drop(uid_t uid, gid_t gid)
{
  gid_t g[2];

  if (setgroups(1, &gid) == -1 || setgid(gid) == -1 || setuid(uid) == -1) return 0;
  if (getgroups(2, g) != 1 || g[0] != gid) { errno = EPERM; return 0; }
  return check(uid, gid);
}

int priv_dropuser(const char *name, uid_t uid, gid_t gid)
{
  if (initgroups(name, gid) == -1 || setgid(gid) == -1 || setuid(uid) == -1) return 0;
  return check(uid, gid);
}
