/* quote - write mail addresses in RFC 5322 syntax.
 * A local part that is not a valid dot-atom is written as a quoted string
 * (backslash before '"', '\' and control characters). Bytes >= 128 count
 * as atom characters (RFC 6532), so UTF-8 local parts stay readable.
 * CR and LF, which no quoting can carry inside a header field, become '_'
 * wherever they stand, as qmail does, so the output always stays on one
 * line. Functions return 1, or 0 with errno set (ENOMEM, ERANGE). */
#ifndef QUOTE_H
#define QUOTE_H

#include <stddef.h>

#include "sa.h"

/* quote_need - 1 when s[0..n) must be quoted to be a local part */
int quote_need(const char *s, size_t n);

/* quote_cat - append s[0..n) to out, quoted when needed */
int quote_cat(sa *out, const char *s, size_t n);

/* quote_domain - append the domain s[0..n) to out: as it is when it is
 * empty, a dot-atom or one plain literal [...], else as a quoted string (a
 * domain that came from one, "a, evil@attacker.example"), so that it reads
 * back as one domain and never as more addresses */
int quote_domain(sa *out, const char *s, size_t n);

/* quote_addr - append the address s[0..n) to out: the part before the last
 * '@' (or all of it when there is none) quoted when needed, then '@' and
 * the domain as quote_domain writes it. The empty address (the null
 * sender) stays empty. */
int quote_addr(sa *out, const char *s, size_t n);

#endif
