/* ids - look up the qmail users and groups by name at run time.
 * Each returns 1 and sets *id when found, 0 when not (errno 0 or the
 * lookup's error; callers treat it as a temporary failure). */
#ifndef IDS_H
#define IDS_H

#include <sys/types.h>

int ids_uid(const char *name, uid_t *uid);
int ids_gid(const char *name, gid_t *gid);
int ids_user(const char *name, uid_t *uid, gid_t *gid); /* primary group too */

#endif
