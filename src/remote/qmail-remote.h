/* qmail-remote internals shared by its parts.
 * qmail-remote.c: reports on fd 1, controls, routing, connecting.
 * qmail-remote-smtp.c: the SMTP conversation on a connected socket.
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
  const sa *dkimsig;              /* header lines (CRLF) sent before the message */
};

/* dkim_sign - the DKIM-Signature header for fd 0 from qmail-dkimsign (empty
 * when control/dkimkeys does not exist), fd 0 rewound; a Z report and exit
 * when signing fails (qmail-remote-dkim.c) */
void dkim_sign(sa *sig);

/* smtp - deliver stdin to the peer and print every report */
noreturn void smtp(const struct smtpjob *j);

#endif
