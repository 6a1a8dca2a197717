/* spawn - the delivery engine shared by qmail-lspawn and qmail-rspawn.
 * spawn_main reads jobs from fd 0 and writes reports to fd 1 in the
 * spawnproto format. For each job it opens the message (queue/mess/N/id,
 * a regular file owned by qmailq), makes a pipe and calls ops->start,
 * which forks a child with the message on fd 0 and the pipe on fds 1 and
 * 2. One process, one poll() loop: every child's output is collected at
 * once, so hundreds of deliveries run side by side. When a child has
 * exited and its output is drained, ops->report turns exit status and
 * output into K/Z/D text. At EOF on fd 0 it waits for the children still
 * running and returns 0; it returns 111 when it cannot start. */
#ifndef SPAWN_H
#define SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "sa.h"

typedef struct spawn_ops {
  unsigned long limit;         /* deliveries at once (conf-spawn) */
  size_t maxoutput;            /* output kept per delivery */
  uid_t messowner;             /* the uid every message file must have */
  /* start - fork; the child must not return. recip[at] is its last @. */
  pid_t (*start)(int fdmess, int fdout, const char *sender,
                 const char *recip, size_t at);
  /* report - append K, Z or D and a text for one finished delivery;
   * truncated is 1 when output went past maxoutput. */
  void (*report)(sa *out, int wstat, const char *s, size_t len, int truncated);
} spawn_ops;

int spawn_main(const spawn_ops *ops);

/* spawn_childsetup - in a fresh child: default signals, empty mask, the
 * message on fd 0 and the output pipe on fds 1 and 2. 0 ok, -1 error. */
int spawn_childsetup(int fdmess, int fdout);

#endif
