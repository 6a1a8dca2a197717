/* qmail-smtpd.h - what the files of qmail-smtpd share.
 * qmail-smtpd.c holds the session (commands and replies),
 * qmail-smtpd-addr.c the parsing of MAIL and RCPT arguments,
 * qmail-smtpd-data.c the DATA stream from the client to qmail-queue,
 * qmail-smtpd-rcpt.c the recipient check at RCPT time. */
#ifndef QMAIL_SMTPD_H
#define QMAIL_SMTPD_H

#include <stddef.h>
#include <stdnoreturn.h>

#include "bio.h"
#include "qmail.h"
#include "sa.h"

/* longest address kept from MAIL or RCPT, after quotes are taken off */
#define SMTPD_ADDRMAX 900

/* the session's I/O and death helpers (qmail-smtpd.c) */
extern bio smtpd_in;
void out(const char *s);
void outb(const char *s, size_t n);
void smtpd_feed(void);                 /* more input, flushing replies first */
noreturn void die_nomem(void);
noreturn void die_ipme(void);

/* addr_parse - take the address out of a MAIL/RCPT argument arg[0..len)
 * into addr (no NUL). The address is inside <...> or, for clients that
 * omit the brackets, after the ':' up to a space. A leading source route
 * (@a,@b:) is dropped; quotes and backslashes are taken off. *params is set
 * to the offset in arg just past the address (where ESMTP parameters
 * start). liphost (0 for none) replaces a literal [ip] of this host.
 * Returns 1, or 0 for a syntax error: a NUL byte, or an address longer
 * than SMTPD_ADDRMAX. */
int addr_parse(sa *addr, const char *arg, size_t len, size_t *params, const sa *liphost);

/* param_size - the value of a SIZE= parameter in p[0..len), or 0 when there
 * is none; a number too big for unsigned long gives ULONG_MAX. */
unsigned long param_size(const char *p, size_t len);

/* data_blast - read the DATA text up to the lone dot, unstuff it, turn CR LF
 * into LF and give it to q. Sets *hops to the count of Received and
 * Delivered-To fields in the header and *toobig when more than databytes
 * (0: no limit) bytes came; either makes q fail. A bare LF or bare CR ends
 * the session with 451 (qmail-smtpd(8) TRANSPARENCY). */
void data_blast(qmail *q, unsigned long databytes, unsigned long *hops, int *toobig);

/* rcpt_setup - read control/rcptcheck (RCPTCHECK overrides it) and, when
 * the check is on, what rewriting needs; me is control/me. 1, or 0 when a
 * control file cannot be read. */
int rcpt_setup(const char *me);

/* rcpt_check - would local delivery take addr[0..len) (as it will be
 * queued)? RCPT_OK also for a remote address or with the check off. */
#define RCPT_OK 0
#define RCPT_UNKNOWN 1      /* delivery would bounce: no such mailbox */
#define RCPT_TEMP 2         /* cannot tell now */
int rcpt_check(const char *addr, size_t len);

/* straynewline - answer a bare LF or CR with 451 and end the session */
noreturn void straynewline(void);

#endif
