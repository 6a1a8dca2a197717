/* getpw - qmail-getpw(8)'s rules: which account in the system's password
 * database controls a local address, and with which extension. One
 * implementation for qmail-getpw (which qmail-lspawn runs for delivery),
 * qmail-rcptcheck and qmail-smtpd (at RCPT time), each giving the rules
 * its source of password entries: getpw_answer asks NSS (getpwnam,
 * getpwnss.c); qmail-smtpd, which has no NSS, reads /etc/passwd itself
 * where that gives getpwnam's answer (pwfiles.c).
 * The answer is 1 with out = user NUL uid NUL gid NUL home NUL dash NUL
 * ext NUL (assign_parse reads it), or 0 on a temporary failure with *w
 * saying why; never a "no such user": an address no account matches
 * belongs to the alias user. getpw_answer_from also says -1 when its
 * source cannot tell. */
#ifndef GETPW_H
#define GETPW_H

#include <stddef.h>

#include "sa.h"

typedef struct getpw_why {
  const char *why, *name, *tail;  /* the message: why name tail */
  int err;                        /* the errno to add, or 0 */
} getpw_why;

/* account names are assumed shorter than this, as qmail does */
#define GETPW_USERLEN 32

struct passwd;

/* getpw_source - the password entry of name: 1 with *pw set (valid until
 * the next call), 0 no such account, -1 a temporary failure with *w
 * saying why, -2 this source cannot tell */
typedef int getpw_source(const char *name, struct passwd **pw, getpw_why *w);

/* getpw_answer_from - the six fields for local[0..len) (no NUL inside),
 * by the rules over src's entries: 1, 0 (temporary), -1 src cannot tell */
int getpw_answer_from(sa *out, const char *local, size_t len, getpw_why *w, getpw_source *src);

/* getpw_answer - the same from the system's password database (NSS),
 * which always tells: 1 or 0 */
int getpw_answer(sa *out, const char *local, size_t len, getpw_why *w);

#endif
