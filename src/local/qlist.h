/* qlist.h - what the files of qlist share.
 * qlist.c holds the request (which list, which command, the replies),
 * qlist-cookie.c the confirmation cookies and their key,
 * qlist-members.c the subscriber file ~/.qmail-LIST.
 * Every function here either succeeds or ends the program with
 * qmail-command(8)'s codes: 100 refuse, 111 try again. */
#ifndef QLIST_H
#define QLIST_H

#include <stddef.h>
#include <stdnoreturn.h>
#include <time.h>

#include "sa.h"

/* a cookie is valid this long after it was made */
#define QLIST_COOKIE_LIFE (4 * 86400)

noreturn void ql_nomem(void);
noreturn void ql_temp(const char *what, const char *fn);  /* "unable to WHAT FN: errno" */

/* qlist_addr_ok - 1 when a[0..n) is a plain box@domain that can sit on a
 * &address line of a .qmail file: printable ASCII, one @ with text on
 * both sides, no |, no space or quote, not beginning with . / & # or +. */
int qlist_addr_ok(const char *a, size_t n);

/* cookie_make - out = "A.TIME.MAC" for action 's' or 'u', address addr and
 * the list address list, made now; the key file .qlist-NAME.key (name is
 * the list's file-name form) is created on first use. */
void cookie_make(sa *out, const char *name, char action, time_t now,
                 const char *list, const char *addr);

/* cookie_check - 1 when c[0..n) is a cookie made by cookie_make for this
 * action, list and addr, no more than QLIST_COOKIE_LIFE ago; else 0.
 * Sets *action from the cookie. */
int cookie_check(const char *c, size_t n, const char *name, char *action, time_t now,
                 const char *list, const char *addr);

/* members_change - add (action 's') or remove ('u') addr in ~/.qmail-NAME
 * under a lock, writing the new file to a temporary name, fsyncing it and
 * renaming it into place. Returns 1 when the file changed, 0 when addr
 * was already (or not) there. */
int members_change(const char *name, const char *list, char action, const char *addr);

/* members_default - make .qmail-NAME-request-default a copy of
 * .qmail-NAME-request when it is missing, so that confirmation replies
 * to NAME-request-confirm-... reach qlist too */
void members_default(const char *name);

#endif
