/* qmail-smtpd.h - what the files of qmail-smtpd share.
 * qmail-smtpd.c holds the session (commands and replies),
 * qmail-smtpd-addr.c the parsing of MAIL and RCPT arguments,
 * qmail-smtpd-data.c the DATA and BDAT streams from the client to
 * qmail-queue, qmail-smtpd-reply.c the replies (RFC 2034 codes, the log),
 * qmail-smtpd-rcpt.c the recipient check at RCPT time. */
#ifndef QMAIL_SMTPD_H
#define QMAIL_SMTPD_H

#include <stddef.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "bio.h"
#include "qmail.h"
#include "sa.h"

/* longest address kept from MAIL or RCPT, after quotes are taken off */
#define SMTPD_ADDRMAX 900

/* the session's input and death helpers (qmail-smtpd.c) */
extern bio smtpd_in;
void smtpd_feed(void);                 /* more input, flushing replies first */
/* smtpd_getline - the next line from the client into buf (room for max + 2),
 * without its CR LF: its length, or -1 when it was longer than max (read to
 * its LF and dropped). With wipe set, the bytes are zeroed in the input
 * buffer as they are taken, and in buf on -1 (AUTH answers). */
ssize_t smtpd_getline(char *buf, size_t max, int wipe);
void smtpd_flush(void);                /* the replies out now */
void smtpd_forget(void);               /* a new session: HELO, MAIL, RCPT gone */
noreturn void die_nomem(void);
noreturn void smtpd_close(void);       /* flush the replies and end the session */
noreturn void die_ipme(void);
noreturn void die_write(void);

/* the reply layer (qmail-smtpd-reply.c). out and outb take replies written
 * qmail's way, "550 text (#5.1.1)\r\n"; a reply goes out when its last
 * line is complete: as written, or after reply_esc(1) (EHLO) with its
 * RFC 2034 code in front of every line ("550 5.1.1 text"); a 2xx reply
 * without a code gets the one set by reply_okcode. 4xx and 5xx replies are
 * logged on fd 2 with ip and the command set by reply_cmd. */
void reply_init(int fd, unsigned timeout, const char *ip);
void out(const char *s);
void outb(const char *s, size_t n);
int reply_flush(void);                 /* 1, or 0 with errno set */
void reply_esc(int on);
void reply_okcode(const char *code);
void reply_cmd(const char *s, size_t n);

/* addr_parse - take the address out of a MAIL/RCPT argument arg[0..len)
 * into addr (no NUL). The address is inside <...> or, for clients that
 * omit the brackets, after a leading FROM: or TO: (any case) up to a
 * space. A leading source route (@a,@b:) is
 * dropped; quotes and backslashes are taken off. *params is set to the
 * offset in arg just past the address (where ESMTP parameters start).
 * liphost (0 for none) replaces a literal [ip] of this host. Returns 1,
 * or 0 with addr_err set to the whole reply to send: 501 for a CR, LF or
 * NUL anywhere in arg (envaddr.h) or, without brackets, a missing
 * FROM:/TO:, 555 for an
 * address longer than SMTPD_ADDRMAX. */
extern const char *addr_err;
int addr_parse(sa *addr, const char *arg, size_t len, size_t *params, const sa *liphost);

/* param_has - 1 when the ESMTP parameters p[0..len) hold the keyword kw
 * (no value), in any case */
int param_has(const char *p, size_t len, const char *kw);

/* param_size - the value of a SIZE= parameter in p[0..len), or 0 when there
 * is none; a number too big for unsigned long gives ULONG_MAX. */
unsigned long param_size(const char *p, size_t len);

/* data_blast - read the DATA text up to the lone dot, unstuff it, turn CR LF
 * into LF and give it to q. Sets *hops to the count of Received and
 * Delivered-To fields in the header and *toobig when more than databytes
 * (0: no limit) bytes came; either makes q fail. A bare LF or bare CR ends
 * the session with 451 (qmail-smtpd(8) TRANSPARENCY). */
void data_blast(qmail *q, unsigned long databytes, unsigned long *hops, int *toobig);

/* STARTTLS (qmail-smtpd-tls.c): smtpd_tls is 0, or "protocol cipher" once
 * TLS is on (at the start under ucspi-tlsd -i, or after STARTTLS).
 * tls_init reads the environment, tls_offer says whether EHLO lists
 * STARTTLS, tls_proto is the "with" text of the Received field. */
extern const char *smtpd_tls;
void tls_init(void);
int tls_offer(void);
const char *tls_proto(void);
void smtp_starttls(const char *arg, size_t len);

/* BDAT (RFC 3030): bdat_start begins a message for q, bdat_chunk reads n
 * bytes of it from the client (CR LF into LF; a bare CR or LF is
 * straynewline), bdat_end finishes it as data_blast does (a last line
 * without CR LF is ended); bdat_toobig says whether databytes has been
 * passed so far. bdat_skip reads and drops n bytes. */
void bdat_start(qmail *q, unsigned long databytes);
void bdat_chunk(unsigned long n);
int bdat_toobig(void);
void bdat_end(unsigned long *hops, int *toobig);
void bdat_skip(unsigned long n);

/* SPF at MAIL (qmail-smtpd-spf.c): spf_setup reads control/spfpolicy
 * (0, or -1 on error); spf_mail returns 1 to go on, 0 when it answered
 * the client with a refusal; spf_header puts the Authentication-Results
 * field of the last MAIL, if any, into q */
int spf_setup(void);
int spf_mail(const char *sender, const char *helo, const char *remoteip);
void spf_header(qmail *q);

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

/* SMTP AUTH (qmail-smtpd-auth.c). auth_init takes qmail-smtpd's arguments
 * (argv[1...] is the checkpassword program) and the environment;
 * auth_ehlo adds the AUTH line to EHLO when it is offered; auth_mailok
 * answers 530 and returns 0 when AUTHREQUIRED is set and nobody has
 * logged in; smtp_auth is the AUTH command (never during a transaction:
 * the caller checks); auth_user is the logged-in name or 0; auth_proto
 * sets proto to the Received line's "ESMTPA (authenticated user NAME)" or
 * "ESMTPSA (protocol cipher) (authenticated user NAME)" (unchanged when
 * nobody logged in; 0 on ENOMEM); auth_reset forgets the login (STARTTLS). */
void auth_init(int argc, char **argv);
void auth_ehlo(void);
int auth_mailok(void);
void smtp_auth(const char *arg, size_t len);
const char *auth_user(void);
int auth_proto(sa *proto);
void auth_reset(void);

#endif
