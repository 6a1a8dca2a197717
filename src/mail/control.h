/* control - read qmail's control files (qmail-control(5)).
 * Names are relative to the current directory, normally conf-home.
 * Every line loses trailing spaces, tabs and CRs (files saved with CRLF line
 * ends work). Returns 1 when the file was read, 0 when it does not exist
 * (the output then holds the default, if any), -1 on any other error, with
 * errno set: a temporary failure. */
#ifndef CONTROL_H
#define CONTROL_H

#include "sa.h"

/* control_readline - first line of fn into out (no NUL) */
int control_readline(sa *out, const char *fn);

/* control_rldef - first line of fn; if missing or empty, def (which may be 0,
 * meaning leave out empty). 1 read, 0 default used, -1 error. */
int control_rldef(sa *out, const char *fn, const char *def);

/* control_me - control/me; if missing or empty, the system's host name.
 * 1 read from the file, 2 fell back to the host name, -1 error. out has no NUL. */
int control_me(sa *out);

/* control_readint - a decimal number on the first line; a missing file
 * leaves *u alone and returns 0; garbage is an error (EINVAL). */
int control_readint(unsigned long *u, const char *fn);

/* control_readfile - all lines, each ending in NUL; blank lines and lines
 * beginning with # are dropped. 1 read, 0 missing (out empty), -1 error. */
int control_readfile(sa *out, const char *fn);

#endif
