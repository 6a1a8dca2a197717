/* say - write messages built from constant pieces to a descriptor.
 * The argument lists end with a null pointer. say() ignores write errors;
 * die() writes to fd 2 and exits with code. No formats, so text from a peer
 * can never be taken for one. */
#ifndef SAY_H
#define SAY_H

#include <stdnoreturn.h>

void say(int fd, const char *s, ...);
noreturn void die(int code, const char *s, ...);
const char *say_errno(void);  /* strerror(errno) */

#endif
