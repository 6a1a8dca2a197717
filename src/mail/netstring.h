/* netstring - D. J. Bernstein's netstrings: a decimal length, ':', the
 * bytes, ','. The length must be digits only, with no leading zero unless
 * it is "0"; anything else is a protocol error, never a guess.
 * Readers take an optional budget (bytes still allowed, decremented for each
 * byte consumed; 0 pointer means no budget) so a netstring nested in another
 * cannot run past its parent. They return 1 on success, 0 at end of input
 * before the first byte, -1 on a read error (errno set), -2 on bad format
 * (including a length over max or past the budget, or EOF midway). */
#ifndef NETSTRING_H
#define NETSTRING_H

#include <stddef.h>

#include "bio.h"
#include "sa.h"

/* longest length prefix accepted, in digits (enough for any size_t) */
#define NETSTRING_DIGITS 20

/* netstring_getlen - read "len:"; *len set when 1 is returned */
int netstring_getlen(bio *b, size_t *budget, size_t max, size_t *len);

/* netstring_getcomma - read the closing ',' */
int netstring_getcomma(bio *b, size_t *budget);

/* netstring_get - read a whole netstring of at most max bytes into out
 * (replacing its contents; no NUL added) */
int netstring_get(bio *b, size_t *budget, size_t max, sa *out);

/* netstring_getdata - read the n payload bytes that follow a length into
 * out (replacing its contents; no NUL added, no comma read) */
int netstring_getdata(bio *b, size_t *budget, size_t n, sa *out);

/* netstring_skip - read and drop n bytes (a payload too big to keep) */
int netstring_skip(bio *b, size_t *budget, size_t n);

/* netstring_cat - append the netstring of s[0..n) to out; 1, or 0 (errno) */
int netstring_cat(sa *out, const char *s, size_t n);

/* netstring_catlen - append only the "n:" prefix */
int netstring_catlen(sa *out, size_t n);

#endif
