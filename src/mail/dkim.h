/* dkim - the libc-only parts of DKIM (RFC 6376): tag lists, header and
 * body canonicalization, header selection, base64. The crypto lives in the
 * programs that link libcrypto (qmail-dkimsign, qmail-dkimverify).
 * Functions returning int give 1 on success and 0 on failure with errno
 * set (ENOMEM, ERANGE, or EINVAL for malformed input). Nothing here keeps
 * state between calls; the caller owns and frees every sa. */
#ifndef DKIM_H
#define DKIM_H

#include <stddef.h>

#include "sa.h"

#define DKIM_MAXTAGS 64

struct dkim_tag {
  const char *name;   /* points into the parsed text; not NUL-terminated */
  size_t nlen;
  const char *val;    /* value with leading and trailing FWS removed */
  size_t vlen;
};

struct dkim_tags {
  struct dkim_tag t[DKIM_MAXTAGS];
  size_t n;
};

/* dkim_tags_parse - a tag-list (RFC 6376 3.2) of s[0..n); 0 (EINVAL) on a
 * syntax error, a duplicate tag or more than DKIM_MAXTAGS tags */
int dkim_tags_parse(struct dkim_tags *tl, const char *s, size_t n);

/* dkim_tag - the tag named name, or 0 */
const struct dkim_tag *dkim_tag(const struct dkim_tags *tl, const char *name);

/* dkim_hrelaxed - append field f (name, colon, value, newlines kept) in
 * relaxed canonical form, ending in CRLF */
int dkim_hrelaxed(sa *out, const char *f, size_t n);

/* dkim_hsimple - append field f unchanged but with every line end CRLF */
int dkim_hsimple(sa *out, const char *f, size_t n);

/* dkim_strip_b - copy field f with the value of its b= tag removed */
int dkim_strip_b(sa *out, const char *f, size_t n);

/* the body canonicalizer: feed bytes as they are stored (LF, CRLF or a
 * bare CR each end a line, as qmail-remote sends them); the canonical
 * bytes go to out(), at most limit of them when limit is not -1 */
struct dkim_body {
  int relaxed;
  int cr, wsp, linehas, any;
  unsigned long long empty;      /* empty lines held back */
  unsigned long long limit;      /* bytes passed on at most; ~0ULL: all */
  unsigned long long count;      /* canonical bytes seen (all, not limited) */
  void (*out)(void *ctx, const char *s, size_t n);
  void *ctx;
};

void dkim_body_init(struct dkim_body *b, int relaxed, void (*out)(void *, const char *, size_t), void *ctx);
void dkim_body_feed(struct dkim_body *b, const char *s, size_t n);
void dkim_body_end(struct dkim_body *b);

/* dkim_hlist - the fields to hash for h= (colon-separated names), picked
 * bottom-up from the header as RFC 6376 5.4.2 says: fields[] holds nf
 * fields (each name:value with newlines); pick[] gets, for each name in h=,
 * the index of the chosen field or (size_t)-1 for a name with no instance
 * left. Returns the number of names, or 0 (EINVAL) when h= is malformed or
 * has more than max names. */
size_t dkim_hlist(const char *h, size_t hlen, const sa *fields, size_t nf, size_t *pick, size_t max);

/* base64 (RFC 4648); decoding skips FWS, as DKIM allows in b=, bh= and p= */
int dkim_b64enc(sa *out, const unsigned char *s, size_t n);
int dkim_b64dec(sa *out, const char *s, size_t n);

/* dkim_fieldname - the length of field f's name (before the colon and
 * any spaces), or 0 when f has no colon */
size_t dkim_fieldname(const char *f, size_t n);

#endif
