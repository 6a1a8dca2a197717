/* rcpthosts - which recipient domains a server accepts (qmail-smtpd(8)).
 * rcpthosts_init reads control/rcpthosts (relative to the current
 * directory) and opens control/morercpthosts.cdb if there is one; 0 ok, -1
 * on an error (errno set; a temporary failure). rcpthosts_check says whether
 * addr[0..len) may be accepted: 1 yes, 0 no, -1 on a read error of the cdb.
 * The decision looks only at the text after the last '@'; an address with
 * no '@' passes. A missing rcpthosts file (qmail let every address pass)
 * refuses every address with an '@': flagrh is then 0, so the caller can
 * log why.
 * Entries compare without regard to case; an entry ".dom" matches every
 * name ending in ".dom". rcpthosts_free releases everything. */
#ifndef RCPTHOSTS_H
#define RCPTHOSTS_H

#include <stddef.h>

#include "cdb.h"
#include "sa.h"

typedef struct rcpthosts {
  int flagrh;        /* 1 when control/rcpthosts exists, else 0 */
  sa rh;             /* the lines, lower-cased, each ending in NUL */
  const char **sorted;
  size_t n;
  int fdmrh;         /* morercpthosts.cdb, or -1 */
  struct cdb mrh;
  sa host;           /* scratch */
} rcpthosts;

int rcpthosts_init(rcpthosts *r);
int rcpthosts_check(rcpthosts *r, const char *addr, size_t len);
void rcpthosts_free(rcpthosts *r);

#endif
