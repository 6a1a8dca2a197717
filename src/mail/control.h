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

/* control_readnum - a decimal number on the first line into *u, which
 * holds the default on entry. 1 read; 0 missing or an empty first line;
 * 2 not a number ("garbage", "-5", too big): *u keeps the default and warn(fn, value) is
 * called first, so the program can say so in its own log (warn may be 0);
 * -1 error. Every numeric control file is read with this. */
typedef void control_warnfn(const char *fn, const char *value);
int control_readnum(unsigned long *u, const char *fn, control_warnfn *warn);

/* control_warn2 - a warn for control_readnum, for programs whose fd 2 is
 * their log: "warning: control/x holds `value', which is not a number;
 * using the default" */
void control_warn2(const char *fn, const char *value);

/* control_readfile - all lines, each ending in NUL; blank lines and lines
 * beginning with # are dropped. 1 read, 0 missing (out empty), -1 error. */
int control_readfile(sa *out, const char *fn);

#endif
