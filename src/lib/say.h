/* say - write messages built from constant pieces to a descriptor.
 * The argument lists end with NULL, the one terminator of every argument
 * list in the tree (the compiler checks it). say() ignores write errors;
 * die() writes to fd 2 and exits with code. No formats, so text from a peer
 * can never be taken for one. */
#ifndef SAY_H
#define SAY_H

#include <stddef.h>
#include <stdnoreturn.h>

void say(int fd, const char *s, ...) __attribute__((sentinel));
noreturn void die(int code, const char *s, ...) __attribute__((sentinel));
const char *say_errno(void);  /* strerror(errno) */

#endif
