/* qmail-remote internals shared by its parts.
 * qmail-remote.c: reports on fd 1, controls, routing, connecting.
 * qmail-remote-smtp.c: the SMTP conversation on a connected socket.
 * qmail-remote-tls.c: STARTTLS through ucspi-tlsd -c.
 * qmail-remote-auth.c: AUTH credentials for a smarthost (control/smtpauth).
 * Every report is a letter, text, and a NUL; the *die functions end the
 * program with exit 0 after the message report, as qmail-remote(8) says. */
#ifndef QMAIL_REMOTE_H
#define QMAIL_REMOTE_H

#include <stddef.h>
#include <stdnoreturn.h>

#include "ipaddr.h"
#include "sa.h"

void out(const char *s);
void outb(const char *s, size_t n);
void zero(void);
noreturn void zerodie(void);
noreturn void temp_nomem(void);
noreturn void temp_read(void);

struct rcpt {
  const char *bad;   /* 0, or the h report text for an address we refuse */
  sa addr;           /* the address as it goes into RCPT TO:<...> */
};

struct smtpjob {
  int fd;                         /* connected socket */
  struct ipaddr partner;
  const sa *helohost;
  const sa *sender;               /* as it goes into MAIL FROM:<...> */
  struct rcpt *rcpt;
  size_t nrcpt;
  unsigned timeout;               /* seconds for each read and write */
  int tls;                        /* 0 no STARTTLS, 1 when offered, 2 required and verified */
  const char *domain;             /* the destination, for the certificate check */
  const char *relay;              /* 0, or the smtproutes relay's name */
  const char *tlsfailed;          /* 0, or why TLS failed on the last try */
  const sa *dkimsig;              /* header lines (CRLF) sent before the message */
};

/* dkim_sign - the DKIM-Signature header for fd 0 from qmail-dkimsign (empty
 * when control/dkimkeys does not exist), fd 0 rewound; a Z report and exit
 * when signing fails (qmail-remote-dkim.c) */
void dkim_sign(sa *sig);

/* smtp - deliver stdin to the peer and print every report. It returns
 * only when STARTTLS failed with a peer that need not have TLS (j->tls 1),
 * setting j->tlsfailed: the caller tries again in cleartext. */
void smtp(struct smtpjob *j);

/* qmail-remote-tls.c: tls_controls reads control/tlsdestinations and
 * control/tlsca and says 2 when mail for domain needs verified TLS, 1
 * otherwise, -1 on a read error. tls_start runs ucspi-tlsd -c on the socket
 * fd: 1 and the cleartext pipes in *rfd, *wfd, with tls_info() saying
 * "protocol cipher, certificate verified" (or "not verified: why"); 0 with
 * the reason in tls_why(). */
int tls_controls(const char *domain);
int tls_start(int fd, const struct smtpjob *j, int *rfd, int *wfd);
const char *tls_info(void);
const char *tls_why(void);

/* qmail-remote-auth.c: auth_controls finds relay's line in control/smtpauth:
 * 1 (then auth_user and auth_pass give it), 0 for none, -1 on a read
 * error, -2 when the file is readable by others than its owner. */
int auth_controls(const char *relay);
const char *auth_user(void);
const char *auth_pass(void);

#endif
