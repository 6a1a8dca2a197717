/* qmail-queue.h - what the files of qmail-queue share.
 * qmail-queue.c is the program, qmail-queue-entry.c the ELF entry point
 * of its musl build, which looks at fds 0 and 1 before musl's start-up
 * can put /dev/null there. */
#ifndef QMAIL_QUEUE_H
#define QMAIL_QUEUE_H

/* 1 when the entry point ran and found fd 0 or 1 closed or write-only;
 * 0 otherwise, and always in a build that starts at libc's own _start */
extern int entry_badfd;

#endif
