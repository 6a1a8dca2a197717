/* qmail - the client side of the qmail-queue protocol (qmail-queue(8)).
 * qmail_open starts $QMAILQUEUE, else conf-home/bin/qmail-queue, with the
 * message on a pipe to its fd 0, the envelope on a pipe to its fd 1 and a
 * pipe on its fd 6 for a custom refusal. Writes never fail visibly: an error
 * is remembered and reported by qmail_close. qmail_close returns "" when the
 * message is safely queued, else a text beginning with Z (temporary) or D
 * (permanent) followed by a human reason ending in an enhanced status code.
 * qmail_close ends the envelope itself, unless the message failed or
 * qmail_from never ran, so that nothing is queued then. Callers should
 * ignore SIGPIPE. */
#ifndef QMAIL_H
#define QMAIL_H

#include <sys/types.h>

#include "bio.h"
#include "sa.h"

typedef struct qmail {
  int flagerr;
  pid_t pid;
  int fdm;
  int fde;
  int fdc;
  bio b;
  char buf[BIO_SIZE];
  sa custom;
} qmail;

int qmail_open(qmail *q);                 /* 0 started, -1 failed (errno) */
unsigned long qmail_qp(const qmail *q);   /* the qmail-queue pid, for "qp N" */
void qmail_put(qmail *q, const char *s, size_t n);
void qmail_puts(qmail *q, const char *s);
void qmail_copyfd(qmail *q, int fd);      /* all of fd; a read error fails q */
void qmail_fail(qmail *q);                /* make sure nothing is queued */
void qmail_from(qmail *q, const char *s); /* ends the message */
void qmail_fromb(qmail *q, const char *s, size_t n);
void qmail_to(qmail *q, const char *s);
void qmail_tob(qmail *q, const char *s, size_t n);
const char *qmail_close(qmail *q);

/* qmail_exittext - the reply text for a qmail-queue exit code */
const char *qmail_exittext(int code);

#endif
