/* dotqmail - the .qmail format of dot-qmail(5), with no I/O of its own.
 * dq_safeext turns an address extension into the form used in file names;
 * dq_search walks the file names qmail-local tries for an extension, asking
 * a callback whether each exists; dq_next splits delivery instructions into
 * classified lines in place. Every function returns what its comment says;
 * on failure errno is set (ENOMEM, ERANGE) and outputs may hold partial
 * data. The caller owns and frees every sa. */
#ifndef DOTQMAIL_H
#define DOTQMAIL_H

#include <stddef.h>

#include "sa.h"

enum dq_type {
  DQ_BLANK,     /* empty after trailing blanks are cut */
  DQ_COMMENT,   /* # ... */
  DQ_PROGRAM,   /* |command: s is the command */
  DQ_FORWARD,   /* &address or address: s is the address */
  DQ_MBOX,      /* /file or ./file: s is the whole line */
  DQ_MAILDIR,   /* /dir/ or ./dir/: s is the whole line */
  DQ_LIST,      /* +list: the rest of the file may only forward */
  DQ_IGNORE,    /* any other line beginning with + */
  DQ_NUL        /* the line holds a NUL byte */
};

typedef struct dq_line {
  enum dq_type type;
  char *s;         /* NUL-terminated, inside the caller's text */
  size_t len;
  size_t lineno;   /* 0 for the first line */
} dq_line;

/* dq_safeext - out = ext with '.' turned to ':' and A-Z to a-z (same
 * length as ext). 1, or 0 on failure. */
int dq_safeext(sa *out, const char *ext);

#define DQ_NODEFAULT ((size_t)-1)

/* dq_search - find the file for dash and the safe extension x[0..n).
 * Tries .qmail<dash><x>; then, when dash is not empty, .qmail<dash><p>default
 * for every prefix p of x that is empty or ends in '-', longest first.
 * exists(name, ctx) returns 1 found, 0 absent, -1 error (search stops).
 * Returns 1 with fn = the name (NUL-terminated) and *defpos = the offset in
 * the extension where $DEFAULT starts (DQ_NODEFAULT when the name does not
 * end in "default"); 0 when nothing exists; -1 on a callback error or
 * when memory runs out. */
int dq_search(sa *fn, const char *dash, const char *x, size_t n,
              int (*exists)(const char *name, void *ctx), void *ctx,
              size_t *defpos);

/* dq_name - fn = ".qmail" dash x[0..n) suffix, NUL-terminated. 1 or 0. */
int dq_name(sa *fn, const char *dash, const char *x, size_t n,
            const char *suffix);

/* dq_home - qmail-local's test of the home directory's mode bits:
 * DQ_OK; DQ_WRITABLE when a bit of patrn (conf-patrn) is set (defer,
 * #4.7.0); DQ_STICKY when the sticky bit is set (the user is editing
 * .qmail files: defer, #4.2.1). */
#define DQ_OK 1
#define DQ_WRITABLE 2
#define DQ_STICKY 3
int dq_home(unsigned long mode, unsigned long patrn);

/* dq_file - the test of a .qmail candidate that exists, by its mode:
 * 0 when it is not a regular file (it counts as absent), DQ_WRITABLE
 * when a bit of patrn is set (defer, #4.7.0), else DQ_OK. */
int dq_file(unsigned long mode, unsigned long patrn);

/* dq_find - which instructions qmail-local follows for dash and ext:
 * safeext = dq_safeext(ext), then dq_search with exists. DQ_FILE with fn
 * and *defpos set as dq_search sets them; DQ_DEFAULTDELIVERY when no file
 * exists and dash is empty (the user's own address: the default
 * delivery); DQ_NOMAILBOX when no file exists and dash is not empty
 * (bounce, #5.1.1); -1 on a callback error or out of memory. Delivery
 * and qmail-rcptcheck both decide with this. */
#define DQ_FILE 1
#define DQ_DEFAULTDELIVERY 2
#define DQ_NOMAILBOX 3
int dq_find(sa *fn, sa *safeext, const char *dash, const char *ext,
            int (*exists)(const char *name, void *ctx), void *ctx,
            size_t *defpos);

/* dq_finish - make text end in a newline so dq_next can cut every line
 * in place. 1, or 0 on failure. */
int dq_finish(sa *text);

/* dq_next - classify the line of text at *pos (text ends in '\n', see
 * dq_finish). Trailing spaces and tabs are cut and the line end becomes
 * NUL. Returns 1 and advances *pos and *lineno, or 0 at the end. */
int dq_next(sa *text, size_t *pos, size_t *lineno, dq_line *out);

#endif
