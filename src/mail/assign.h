/* assign - the users/assign and users/cdb address assignments of
 * qmail-users(5), in qmail's own users/cdb layout, so a cdb built by
 * netqmail's qmail-newu works here and ours works there.
 *
 * users/cdb layout: a simple entry =local:... has the key "!" local NUL; a
 * wildcard entry +prefix:... has the key "!" prefix (no NUL); keys are
 * lower-cased. The data is user NUL uid NUL gid NUL home NUL dash NUL ext
 * (no final NUL; for a wildcard, ext holds pre). The empty key holds the
 * last characters of all non-empty wildcard prefixes, each once.
 *
 * Functions return 1 on success (found), 0 where said, -1 on a temporary
 * error with errno set (ENOMEM, ERANGE, a read error, EPROTO for a corrupt
 * cdb, EINVAL for a uid or gid that is not a decimal number). An assign is
 * freed with assign_free(). */
#ifndef ASSIGN_H
#define ASSIGN_H

#include <stddef.h>
#include <sys/types.h>

#include "sa.h"

/* Each string holds its bytes in s[0..len) with a NUL at s[len], so s can
 * be handed to execv as it is. uid and gid are checked decimal numbers;
 * uid 0 is returned as found: refusing root is the caller's job. */
typedef struct assign {
  sa user;
  uid_t uid;
  gid_t gid;
  sa home;
  sa dash;
  sa ext;
} assign;

#define ASSIGN_ZERO { SA_ZERO, 0, 0, SA_ZERO, SA_ZERO, SA_ZERO }

/* the longest line of users/assign and the longest users/cdb record data */
#define ASSIGN_MAXLINE 65536

/* assign_lookup - find local (any case, as it came; not lower-cased by the
 * caller) in users/cdb, relative to the current directory (auto_home).
 * Rules of qmail-users(5): the first simple entry for local wins; else the
 * longest wildcard prefix of local, with ext = pre followed by the rest of
 * local after the prefix (in its original case). 1 found, 0 when there is
 * no users/cdb or no entry matches (or local holds a NUL), -1 temporary
 * error. */
int assign_lookup(assign *a, const char *local, size_t len);

/* assign_find - the same on an open cdb descriptor (not closed here) */
int assign_find(assign *a, int fd, const char *local, size_t len);

/* assign_parse - read six NUL-terminated fields user, uid, gid, home, dash,
 * ext (qmail-getpw's output) into a. 1 ok, 0 malformed (errno EPROTO or
 * EINVAL), -1 out of memory. */
int assign_parse(assign *a, const char *s, size_t len);

/* assign_make - compile users/assign text read from fdin into a cdb written
 * to fdout (an empty file; the caller fsyncs, closes and renames it).
 * 1 done; 0 a format error in line *line, described by *why; -1 a read,
 * write or memory error (errno set). */
int assign_make(int fdin, int fdout, unsigned long *line, const char **why);

void assign_free(assign *a);

#endif
