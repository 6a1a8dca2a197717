/* pwfiles - getpw's rules (getpw.h) over /etc/passwd read as NSS's
 * "files" source reads it, for qmail-smtpd, which is linked without NSS:
 * it answers only where getpwnam would give the same answer, and says
 * "cannot tell" (-1) everywhere else, so that qmail-smtpd asks
 * qmail-rcptcheck (doc/rcptcheck.md). /etc/nsswitch.conf decides: its
 * passwd line must name files first, with no [action]; then an entry in
 * /etc/passwd is the answer, and a name that is not there is "no such
 * account" only when files is the only source. Another source first, an
 * action, a +/- (compat) line, a malformed entry for the name, a file
 * that cannot be read: cannot tell. */
#ifndef PWFILES_H
#define PWFILES_H

#include <stddef.h>

#include "sa.h"

#include "getpw.h"

/* pwfiles_answer - getpw_answer_from over the files: 1, 0 (temporary:
 * only the stat of a home can fail so), -1 cannot tell */
int pwfiles_answer(sa *out, const char *local, size_t len, getpw_why *w);

/* the two files, for the tests; nsswitch.conf is read once for each
 * value of pwfiles_nsswitch */
extern const char *pwfiles_nsswitch;
extern const char *pwfiles_passwd;

#endif
