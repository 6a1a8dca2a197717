/* priv - drop root for good, and check that it is gone.
 * priv_drop(uid, gid) sets the groups to gid alone, then the gid, then the
 * uid; priv_dropuser(name, uid, gid) does the same with name's groups
 * (initgroups). Either then checks the real and effective uid and gid (and,
 * for priv_drop, the group list) and, when uid is not 0, that root cannot be
 * taken back. 1 when every check holds; 0 with errno set otherwise (EPERM
 * when a call succeeded but an id did not change): the caller must not go on. */
#ifndef PRIV_H
#define PRIV_H

#include <sys/types.h>

int priv_drop(uid_t uid, gid_t gid);
int priv_dropuser(const char *name, uid_t uid, gid_t gid);

#endif
