/* rcptcheck - would local delivery accept this address? The decision of
 * qmail-rcptcheck(8), in one function that qmail-rcptcheck's main and
 * qmail-smtpd both call (doc/rcptcheck.md). It needs the password
 * database only when users/cdb does not answer; qmail-smtpd, linked
 * statically without NSS, passes pwfiles_answer and runs qmail-rcptcheck
 * when the answer is RCPTCHECK_NEEDPW. It keeps no state
 * and prints nothing: a "cannot tell" comes with its log line. */
#ifndef RCPTCHECK_H
#define RCPTCHECK_H

#include <stddef.h>

#include "sa.h"

#include "getpw.h"

/* the verdicts are qmail-rcptcheck's exit codes */
#define RCPTCHECK_OK 0          /* delivery would take it */
#define RCPTCHECK_NOMAILBOX 100 /* delivery would bounce: no mailbox by that name */
#define RCPTCHECK_TEMP 111      /* cannot tell now: *log says why */
#define RCPTCHECK_NEEDPW 1      /* users/cdb does not answer and pw is null */

/* the password database lookup: getpw_answer (NSS), pwfiles_answer
 * (/etc/passwd where that is NSS's answer), or null for none; its -1,
 * "cannot tell", is RCPTCHECK_NEEDPW as null is */
typedef int rcptcheck_pw(sa *out, const char *local, size_t len, getpw_why *w);

/* rcptcheck - the verdict on addr[0..len) as qmail-lspawn would get it
 * (rewritten, no NUL inside), with users/cdb read relative to the current
 * directory, which must be auto_home. It may leave the current directory
 * in the user's home: a caller that goes on restores it. On
 * RCPTCHECK_TEMP, log holds the whole line for the log (ending in a
 * newline, NUL-terminated), or is empty when memory ran out. */
int rcptcheck(const char *addr, size_t len, rcptcheck_pw *pw, sa *log);

/* rcptcheck_temp - set log to the "cannot tell" line for addr[0..len):
 * the prefix, the log-safe address, ": " and the pieces up to NULL
 * (the last ending in a newline), NUL-terminated; empty when memory ran
 * out. RCPTCHECK_TEMP. */
int rcptcheck_temp(sa *log, const char *addr, size_t len, ...) __attribute__((sentinel));

/* the log line when memory ran out before it could be written */
#define RCPTCHECK_NOMEM "qmail-rcptcheck: cannot tell now: out of memory (#4.3.0)\n"

#endif
