#include <errno.h>
#include <string.h>

#include "dkim.h"
#include "str.h"

static int ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int digit(char c) { return c >= '0' && c <= '9'; }

static int inval(void) { errno = EINVAL; return 0; }

int dkim_tags_parse(struct dkim_tags *tl, const char *s, size_t n)
{
  size_t i = 0, j, e;

  tl->n = 0;
  while (i < n) {
    while (i < n && ws(s[i])) ++i;
    if (i == n) break;
    if (s[i] == ';') { ++i; continue; }    /* an empty tag-spec: tolerated */
    if (!alpha(s[i])) return inval();
    j = i;
    while (j < n && (alpha(s[j]) || digit(s[j]) || s[j] == '_')) ++j;
    if (tl->n >= DKIM_MAXTAGS) return inval();
    tl->t[tl->n].name = s + i;
    tl->t[tl->n].nlen = j - i;
    while (j < n && ws(s[j])) ++j;
    if (j == n || s[j] != '=') return inval();
    ++j;
    while (j < n && ws(s[j])) ++j;
    e = j;
    while (e < n && s[e] != ';') {
      unsigned char c = (unsigned char)s[e];
      if (c < 32 && !ws(s[e])) return inval();
      if (c == 127) return inval();
      ++e;
    }
    i = e;
    while (e > j && ws(s[e - 1])) --e;
    tl->t[tl->n].val = s + j;
    tl->t[tl->n].vlen = e - j;
    for (size_t k = 0; k < tl->n; ++k)
      if (tl->t[k].nlen == tl->t[tl->n].nlen && !memcmp(tl->t[k].name, tl->t[tl->n].name, tl->t[k].nlen))
        return inval();
    ++tl->n;
    if (i < n) ++i;                         /* the ';' */
  }
  return 1;
}

const struct dkim_tag *dkim_tag(const struct dkim_tags *tl, const char *name)
{
  size_t n = strlen(name);
  for (size_t k = 0; k < tl->n; ++k)
    if (tl->t[k].nlen == n && !memcmp(tl->t[k].name, name, n)) return &tl->t[k];
  return 0;
}

size_t dkim_fieldname(const char *f, size_t n)
{
  size_t c = byte_chr(f, n, ':');
  if (c == n) return 0;
  while (c > 0 && (f[c - 1] == ' ' || f[c - 1] == '\t')) --c;
  return c;
}

int dkim_hrelaxed(sa *out, const char *f, size_t n)
{
  size_t name = dkim_fieldname(f, n), i, start;
  int pend = 0;

  if (!name) return inval();
  start = out->len;
  if (!sa_catb(out, f, name)) return 0;
  case_lowerb(out->s + start, name);
  if (!sa_append(out, ':')) goto fail;
  i = byte_chr(f, n, ':') + 1;
  while (i < n && ws(f[i])) ++i;           /* no space after the colon */
  for (; i < n; ++i) {
    if (f[i] == '\r' || f[i] == '\n') continue;   /* unfold */
    if (f[i] == ' ' || f[i] == '\t') { pend = 1; continue; }
    if (pend && !sa_append(out, ' ')) goto fail;
    pend = 0;
    if (!sa_append(out, f[i])) goto fail;
  }
  if (!sa_catb(out, "\r\n", 2)) goto fail;
  return 1;
fail:
  out->len = start;
  return 0;
}

int dkim_hsimple(sa *out, const char *f, size_t n)
{
  size_t start = out->len, i;
  int cr = 0;

  for (i = 0; i < n; ++i) {
    if (cr) { cr = 0; if (!sa_catb(out, "\r\n", 2)) goto fail; if (f[i] == '\n') continue; }
    if (f[i] == '\r') { cr = 1; continue; }
    if (f[i] == '\n') { if (!sa_catb(out, "\r\n", 2)) goto fail; continue; }
    if (!sa_append(out, f[i])) goto fail;
  }
  if (cr && !sa_catb(out, "\r\n", 2)) goto fail;
  if (out->len == start || out->s[out->len - 1] != '\n')
    if (!sa_catb(out, "\r\n", 2)) goto fail;
  return 1;
fail:
  out->len = start;
  return 0;
}

int dkim_strip_b(sa *out, const char *f, size_t n)
{
  size_t i = byte_chr(f, n, ':'), j, start = out->len;

  if (i == n) return inval();
  ++i;
  for (;;) {                                  /* i: the start of a tag-spec */
    j = i;
    while (j < n && ws(f[j])) ++j;
    if (j < n && f[j] == 'b') {
      size_t k = j + 1;
      while (k < n && ws(f[k])) ++k;
      if (k < n && f[k] == '=') {
        size_t e = k + 1;
        while (e < n && f[e] != ';') ++e;
        if (!sa_catb(out, f, k + 1) || !sa_catb(out, f + e, n - e)) { out->len = start; return 0; }
        return 1;
      }
    }
    i = j + byte_chr(f + j, n - j, ';');
    if (i >= n) break;
    ++i;
  }
  return inval();                             /* no b= tag */
}

/* ---- body ---- */

void dkim_body_init(struct dkim_body *b, int relaxed, void (*out)(void *, const char *, size_t), void *ctx)
{
  memset(b, 0, sizeof *b);
  b->relaxed = relaxed;
  b->limit = ~0ULL;
  b->out = out;
  b->ctx = ctx;
}

static void emit(struct dkim_body *b, const char *s, size_t n)
{
  unsigned long long left;
  if (b->count < b->limit) {
    left = b->limit - b->count;
    b->out(b->ctx, s, n < left ? n : (size_t)left);
  }
  b->count += n;
}

static void lineend(struct dkim_body *b)
{
  b->wsp = 0;
  if (b->linehas) emit(b, "\r\n", 2);
  else ++b->empty;
  b->linehas = 0;
}

static void content(struct dkim_body *b, const char *s, size_t n)
{
  if (!b->linehas) {
    while (b->empty) { emit(b, "\r\n", 2); --b->empty; }
    b->linehas = 1;
  }
  if (b->wsp) { emit(b, " ", 1); b->wsp = 0; }
  emit(b, s, n);
}

void dkim_body_feed(struct dkim_body *b, const char *s, size_t n)
{
  size_t i = 0, j;

  b->any |= n > 0;
  while (i < n) {
    char c = s[i];
    if (b->cr) {
      b->cr = 0;
      lineend(b);
      if (c == '\n') { ++i; continue; }
    }
    if (c == '\r') { b->cr = 1; ++i; continue; }
    if (c == '\n') { lineend(b); ++i; continue; }
    if (b->relaxed && (c == ' ' || c == '\t')) { b->wsp = 1; ++i; continue; }
    /* a run of ordinary bytes in one call */
    for (j = i + 1; j < n; ++j) {
      char d = s[j];
      if (d == '\r' || d == '\n' || (b->relaxed && (d == ' ' || d == '\t'))) break;
    }
    content(b, s + i, j - i);
    i = j;
  }
}

void dkim_body_end(struct dkim_body *b)
{
  if (b->cr) { b->cr = 0; lineend(b); }
  if (b->linehas) lineend(b);
  else if (b->wsp) b->wsp = 0;              /* a last line of spaces only */
  if (!b->relaxed && b->count == 0) emit(b, "\r\n", 2);  /* simple: an empty body is CRLF */
}

/* ---- header selection ---- */

size_t dkim_hlist(const char *h, size_t hlen, const sa *fields, size_t nf, size_t *pick, size_t max)
{
  size_t i = 0, n = 0, e, s, t, k;
  unsigned char used[8192];
  int done;

  if (nf > sizeof used) { errno = EINVAL; return 0; }
  memset(used, 0, nf);
  while (i <= hlen) {
    e = i + byte_chr(h + i, hlen - i, ':');
    s = i; t = e;
    while (s < t && ws(h[s])) ++s;
    while (t > s && ws(h[t - 1])) --t;
    if (s == t) { errno = EINVAL; return 0; }
    for (k = s; k < t; ++k)
      if ((unsigned char)h[k] <= 32 || h[k] == 127) { errno = EINVAL; return 0; }
    if (n >= max) { errno = EINVAL; return 0; }
    pick[n] = (size_t)-1;
    done = 0;
    for (k = nf; k-- > 0 && !done;) {
      size_t fl = dkim_fieldname(fields[k].s, fields[k].len);
      if (used[k] || fl != t - s || case_diffb(fields[k].s, fl, h + s)) continue;
      used[k] = 1;
      pick[n] = k;
      done = 1;
    }
    ++n;
    i = e + 1;
  }
  return n;
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int dkim_b64enc(sa *out, const unsigned char *s, size_t n)
{
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    char q[4] = { b64[s[i] >> 2], b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                  b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], b64[s[i + 2] & 63] };
    if (!sa_catb(out, q, 4)) return 0;
  }
  if (n - i == 1) {
    char q[4] = { b64[s[i] >> 2], b64[(s[i] & 3) << 4], '=', '=' };
    if (!sa_catb(out, q, 4)) return 0;
  } else if (n - i == 2) {
    char q[4] = { b64[s[i] >> 2], b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)], b64[(s[i + 1] & 15) << 2], '=' };
    if (!sa_catb(out, q, 4)) return 0;
  }
  return 1;
}

int dkim_b64dec(sa *out, const char *s, size_t n)
{
  unsigned long acc = 0;
  size_t i, bits = 0, pad = 0, start = out->len;

  for (i = 0; i < n; ++i) {
    char c = s[i];
    const char *p;
    if (ws(c)) continue;
    if (c == '=') { ++pad; continue; }
    if (pad || !c || !(p = strchr(b64, c))) goto bad;
    acc = (acc << 6) | (unsigned long)(p - b64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!sa_append(out, (char)((acc >> bits) & 255))) { out->len = start; return 0; }
    }
  }
  if (pad > 2 || bits >= 6) goto bad;
  return 1;
bad:
  out->len = start;
  errno = EINVAL;
  return 0;
}
