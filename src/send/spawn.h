/* spawn - the delivery engine shared by qmail-lspawn and qmail-rspawn.
 * spawn_main reads jobs from fd 0 and writes reports to fd 1 in the
 * spawnproto format. For each job it checks the recipients, opens the
 * message (queue/mess/N/id, a regular file owned by qmailq), makes a pipe
 * and calls the start hook, which forks a child with the message on fd 0
 * and the pipe on fds 1 and 2. One process, one poll() loop: every child's
 * output is collected at once, so hundreds of deliveries run side by side.
 * When a child has exited and its output is drained, the report hook turns
 * exit status and output into K/Z/D text, one per recipient. At EOF on
 * fd 0 it waits for the children still running and returns 0; it returns
 * 111 when it cannot start.
 * spawn_main runs one recipient per child (ops->start, ops->report); a job
 * with more gets a temporary failure for the others. spawn_main_batch
 * runs all recipients of a job in one child (b->start, b->report); they
 * must share one domain (after the last @, ignoring case). */
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

typedef struct spawn_batchops {
  /* maxrecord - the child's output is read as NUL-terminated records; at
   * most this many bytes of each and n + 1 records (n recipients) are
   * kept, so one long record never pushes out the ones after it */
  size_t maxrecord;
  /* start - fork; the child must not return. recips[0..n), n >= 1, all
   * with an @ and one domain; recips[n] is a null pointer. */
  pid_t (*start)(int fdmess, int fdout, const char *sender,
                 char *const *recips, size_t n);
  /* report - append n reports, K, Z or D and a text each ending in NUL,
   * in recipient order; truncated is 1 when output was cut. */
  void (*report)(sa *out, int wstat, const char *s, size_t len, int truncated, size_t n);
} spawn_batchops;

int spawn_main(const spawn_ops *ops);
/* spawn_main_batch - ops gives limit and messowner; b the rest */
int spawn_main_batch(const spawn_ops *ops, const spawn_batchops *b);

/* spawn_onreap - f is called for every child spawn_main reaps that is
 * not a delivery (a helper the start hook keeps running); none by default */
void spawn_onreap(void (*f)(pid_t pid, int wstat));

/* spawn_childsetup - in a fresh child: default signals, empty mask, the
 * message on fd 0 and the output pipe on fds 1 and 2. 0 ok, -1 error. */
int spawn_childsetup(int fdmess, int fdout);

/* spawn_vfork - a child started with vfork that runs child(fdmess,
 * fdout), which must only make system calls and exec or _exit, never
 * return. Every signal is blocked around the vfork, so no handler of the
 * parent's runs in the child while it shares the parent's memory; the
 * child unblocks them (spawn_childsetup). The parent's mask and errno
 * are as before; returns the pid, or -1 with errno set. */
pid_t spawn_vfork(void (*child)(int fdmess, int fdout), int fdmess, int fdout);

#endif
