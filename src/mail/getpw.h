/* getpw - qmail-getpw(8)'s rules: which account in the system's password
 * database controls a local address, and with which extension. One
 * implementation for qmail-getpw (which qmail-lspawn runs for delivery)
 * and qmail-rcptcheck (which qmail-smtpd runs at RCPT time).
 * getpw_answer returns 1 with out = user NUL uid NUL gid NUL home NUL dash
 * NUL ext NUL (assign_parse reads it), or 0 on a temporary failure with
 * *w saying why; never a "no such user": an address no account matches
 * belongs to the alias user. */
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

/* getpw_answer - the six fields for local[0..len) (no NUL inside) */
int getpw_answer(sa *out, const char *local, size_t len, getpw_why *w);

#endif
