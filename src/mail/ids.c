#include <errno.h>
#include <grp.h>
#include <pwd.h>

#include "ids.h"

int ids_user(const char *name, uid_t *uid, gid_t *gid)
{
  struct passwd *pw;
  errno = 0;
  pw = getpwnam(name);
  if (!pw) return 0;
  *uid = pw->pw_uid;
  if (gid) *gid = pw->pw_gid;
  return 1;
}

int ids_uid(const char *name, uid_t *uid) { return ids_user(name, uid, 0); }

int ids_gid(const char *name, gid_t *gid)
{
  struct group *gr;
  errno = 0;
  gr = getgrnam(name);
  if (!gr) return 0;
  *gid = gr->gr_gid;
  return 1;
}
