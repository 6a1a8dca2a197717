/* pop3 - read one POP3 command (RFC 1939) for qmail-popup and qmail-pop3d.
 * A command is a line of at most POP3_LINE bytes (LF included), split at the
 * first space: the verb, lowercased, and the argument, everything after that
 * space (a password may hold spaces). A CR before the LF is dropped.
 * c->verb and c->arg point into c->line, each NUL-terminated.
 * pop3_getcmd reads through a bio. pop3_getcmd_exact reads fd itself and
 * never past the LF (recv with MSG_PEEK on a socket, else one byte at a
 * time), so a program run next finds the following bytes still unread.
 * Both return POP3_CMD; POP3_LONG when the line was over the limit (the rest
 * of it has been read and thrown away, so the session can go on); POP3_BAD
 * when it held a NUL byte; POP3_EOF at end of input (a partial last line is
 * dropped); POP3_ERR on a read error or timeout, errno set. */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>

#include "bio.h"
#include "sa.h"

#define POP3_LINE 1024

enum { POP3_CMD, POP3_LONG, POP3_BAD, POP3_EOF, POP3_ERR };

typedef struct pop3cmd {
  sa line;
  const char *verb;
  const char *arg;
} pop3cmd;

#define POP3CMD_ZERO { SA_ZERO, 0, 0 }

int pop3_getcmd(bio *in, pop3cmd *c);
int pop3_getcmd_exact(int fd, unsigned timeout, pop3cmd *c);

#endif
