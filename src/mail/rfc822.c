#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rfc822.h"
#include "grow.h"
#include "quote.h"

#define WIDTH 78

/* addtok - append one token */
static int addtok(rfc822_tokens *tk, int type, size_t off, size_t len)
{
  rfc822_token *nt = grow(tk->t, &tk->a, tk->len + 1, sizeof *nt);
  if (!nt) return 0;
  tk->t = nt;
  tk->t[tk->len].type = type;
  tk->t[tk->len].off = off;
  tk->t[tk->len].len = len;
  ++tk->len;
  return 1;
}

static int special(char c)
{
  switch (c) {
    case ',': case ':': case ';': case '<': case '>': case '@': case '.':
      return 1;
  }
  return 0;
}

static int delim(char c)
{
  switch (c) {
    case ' ': case '\t': case '\r': case '\n': case '(': case ')': case '"':
    case '[': case ']': case '\\': case 0:
      return 1;
  }
  return special(c);
}

/* enclosed - copy a comment, quoted string or literal starting after its
 * opening character at s[*i]; the text has room for all of s. Returns 1,
 * or 0 with tk->err set. */
static int enclosed(rfc822_tokens *tk, const char *s, size_t n, size_t *i,
                    char open, char close, const char *unbalanced)
{
  size_t depth = 1;
  char *out = tk->text.s;
  size_t o = tk->text.len;
  size_t k = *i;

  for (;;) {
    char c;
    if (k >= n) { tk->err = unbalanced; return 0; }
    c = s[k];
    if (!c) { tk->err = "NUL in header field"; return 0; }
    if (c == '\\') {
      if (k + 1 >= n) { tk->err = unbalanced; return 0; }
      if (!s[k + 1]) { tk->err = "NUL in header field"; return 0; }
      if (s[k + 1] != '\n' && s[k + 1] != '\r') out[o++] = s[k + 1];
      k += 2;
      continue;
    }
    if (c == close) {
      if (!--depth) { ++k; break; }
    } else if (c == open && open != close) {
      if (open == '[') { tk->err = unbalanced; return 0; }
      ++depth;
    }
    if (c != '\n' && c != '\r') out[o++] = c;  /* folding is not content */
    ++k;
  }
  *i = k;
  tk->text.len = o;
  return 1;
}

int rfc822_tokenize(rfc822_tokens *tk, const char *s, size_t n)
{
  size_t i = 0;

  tk->len = 0;
  tk->err = 0;
  if (tk->text.s) tk->text.len = 0;
  /* contents never outgrow the input, so reserve it once */
  if (!sa_ready(&tk->text, n ? n : 1)) return -1;
  tk->text.len = 0;
  while (i < n) {
    char c = s[i];
    size_t off = tk->text.len;
    int type;
    switch (c) {
      case 0:
        tk->err = "NUL in header field";
        return 0;
      case ' ': case '\t': case '\r': case '\n':
        ++i;
        continue;
      case '(':
        ++i;
        if (!enclosed(tk, s, n, &i, '(', ')', "unbalanced parenthesis")) return 0;
        type = RFC822_COMMENT;
        break;
      case '"':
        ++i;
        if (!enclosed(tk, s, n, &i, '"', '"', "unbalanced quote")) return 0;
        type = RFC822_QUOTED;
        break;
      case '[':
        ++i;
        if (!enclosed(tk, s, n, &i, '[', ']', "unbalanced bracket")) return 0;
        type = RFC822_LITERAL;
        break;
      case ')':
        tk->err = "unbalanced parenthesis";
        return 0;
      case ']':
        tk->err = "unbalanced bracket";
        return 0;
      case '\\':
        tk->err = "backslash outside a quoted string";
        return 0;
      default:
        if (special(c)) {
          if (!addtok(tk, (unsigned char)c, off, 0)) return -1;
          ++i;
          continue;
        }
        while (i < n && !delim(s[i])) tk->text.s[tk->text.len++] = s[i++];
        type = RFC822_ATOM;
    }
    if (!addtok(tk, type, off, tk->text.len - off)) return -1;
  }
  return 1;
}

void rfc822_tokfree(rfc822_tokens *tk)
{
  free(tk->t);
  tk->t = 0;
  tk->len = tk->a = 0;
  sa_free(&tk->text);
}

void rfc822_free(rfc822_list *l)
{
  free(l->i);
  l->i = 0;
  l->len = l->a = 0;
  sa_free(&l->text);
  rfc822_tokfree(&l->tok);
}

static rfc822_item *additem(rfc822_list *l, int kind)
{
  rfc822_item *ni = grow(l->i, &l->a, l->len + 1, sizeof *ni), *it;
  if (!ni) return 0;
  l->i = ni;
  it = l->i + l->len++;
  memset(it, 0, sizeof *it);
  it->kind = kind;
  return it;
}

static int isword(int type)
{
  return type == RFC822_ATOM || type == RFC822_QUOTED || type == RFC822_LITERAL;
}

/* catescaped - s[0..n) between open and close, backslash before specials */
static int catescaped(sa *out, const char *s, size_t n, char open, char close)
{
  size_t i, extra = 2, want;
  for (i = 0; i < n; ++i)
    if (s[i] == open || s[i] == close || s[i] == '\\')
      if (!size_add(&extra, extra, 1)) return 0;
  if (!size_add(&want, n, extra)) return 0;
  if (!sa_readyplus(out, want)) return 0;
  out->s[out->len++] = open;
  for (i = 0; i < n; ++i) {
    if (s[i] == open || s[i] == close || s[i] == '\\') out->s[out->len++] = '\\';
    out->s[out->len++] = s[i];
  }
  out->s[out->len++] = close;
  return 1;
}

static int catcomment(sa *out, const rfc822_tokens *tk, size_t k)
{
  return catescaped(out, tk->text.s + tk->t[k].off, tk->t[k].len, '(', ')');
}

/* catphrase - a display or group name from tokens [from, to): runs of
 * atoms print as they are, runs with anything else as one quoted string */
static int catphrase(sa *out, sa *tmp, const rfc822_tokens *tk, size_t from, size_t to)
{
  size_t i = from, j, k;
  int first = 1;

  while (i < to) {
    if (!first && !sa_append(out, ' ')) return 0;
    first = 0;
    if (tk->t[i].type == RFC822_COMMENT) {
      if (!catcomment(out, tk, i)) return 0;
      ++i;
      continue;
    }
    for (j = i; j < to && tk->t[j].type != RFC822_COMMENT; ++j) ;
    tmp->len = 0;
    for (k = i; k < j; ++k) {
      const rfc822_token *t = tk->t + k;
      if (k > i && (isword(t->type)) &&
          (isword(tk->t[k - 1].type) || tk->t[k - 1].type == '.'))
        if (!sa_append(tmp, ' ')) return 0;
      if (t->type == RFC822_LITERAL) {
        if (!sa_append(tmp, '[') || !sa_catb(tmp, tk->text.s + t->off, t->len) ||
            !sa_append(tmp, ']')) return 0;
      } else if (isword(t->type)) {
        if (!sa_catb(tmp, tk->text.s + t->off, t->len)) return 0;
      } else if (!sa_append(tmp, (char)t->type)) return 0;
    }
    for (k = i; k < j; ++k) if (tk->t[k].type != RFC822_ATOM) break;
    if (k == j) { if (!sa_catb(out, tmp->s, tmp->len)) return 0; }
    else if (!catescaped(out, tmp->s, tmp->len, '"', '"')) return 0;
    i = j;
  }
  return 1;
}

/* cataddrpart - the contents of tokens [from, to), comments skipped */
static int cataddrpart(sa *out, const rfc822_tokens *tk, size_t from, size_t to)
{
  size_t k;
  for (k = from; k < to; ++k) {
    const rfc822_token *t = tk->t + k;
    if (t->type == RFC822_COMMENT) continue;
    if (t->type == RFC822_LITERAL) {
      if (!sa_append(out, '[') || !sa_catb(out, tk->text.s + t->off, t->len) ||
          !sa_append(out, ']')) return 0;
    } else if (isword(t->type)) {
      if (!sa_catb(out, tk->text.s + t->off, t->len)) return 0;
    } else if (!sa_append(out, (char)t->type)) return 0;
  }
  return 1;
}

/* addrspec - fill it's address from tokens [from, to); 1, 0 syntax, -1 */
static int addrspec(rfc822_list *l, size_t it, size_t from, size_t to, int angle)
{
  const rfc822_tokens *tk = &l->tok;
  size_t k, at = to;
  rfc822_item *x;

  while (from < to && tk->t[from].type == RFC822_COMMENT) ++from;
  if (angle && from < to && tk->t[from].type == '@') {
    /* source route @a,@b:user@host - keep what follows the colon */
    for (k = from; k < to; ++k) if (tk->t[k].type == ':') break;
    if (k == to) { l->err = "bad source route"; return 0; }
    from = k + 1;
  }
  for (k = from; k < to; ++k) {
    int type = tk->t[k].type;
    if (type == '@') at = k;
    else if (type != '.' && type != RFC822_COMMENT && !isword(type)) {
      l->err = "bad character in address";
      return 0;
    }
  }
  x = l->i + it;
  x->local = l->text.len;
  if (!cataddrpart(&l->text, tk, from, at)) return -1;
  x = l->i + it;
  x->locallen = l->text.len - x->local;
  x->domain = l->text.len;
  x->at = at < to;
  if (at < to && !cataddrpart(&l->text, tk, at + 1, to)) return -1;
  x = l->i + it;
  x->domainlen = l->text.len - x->domain;
  return 1;
}

/* comments - collect the comments of tokens [from, to) into item it */
static int comments(rfc822_list *l, size_t it, size_t from, size_t to)
{
  size_t k, off = l->text.len;
  for (k = from; k < to; ++k) {
    if (l->tok.t[k].type != RFC822_COMMENT) continue;
    if (l->text.len > off && !sa_append(&l->text, ' ')) return 0;
    if (!catcomment(&l->text, &l->tok, k)) return 0;
  }
  l->i[it].comment = off;
  l->i[it].commentlen = l->text.len - off;
  return 1;
}

/* bare - addresses without angle brackets; a word right after a word
 * starts a new address (qmail's "illegal space becomes a comma") */
static int bare(rfc822_list *l, size_t from, size_t to)
{
  const rfc822_tokens *tk = &l->tok;
  size_t start = from, k;
  int prevword = 0, any = 0;

  for (k = from; k <= to; ++k) {
    int type = k < to ? tk->t[k].type : 0;
    if (type == RFC822_COMMENT) continue;
    if (k == to || (isword(type) && prevword)) {
      if (any) {
        int r;
        if (!additem(l, RFC822_MAILBOX)) return -1;
        r = addrspec(l, l->len - 1, start, k, 0);
        if (r != 1) return r;
        if (!comments(l, l->len - 1, start, k)) return -1;
      }
      start = k;
      any = 0;
    }
    prevword = isword(type);
    any = 1;
  }
  return 1;
}

int rfc822_addrlist(rfc822_list *l, const char *s, size_t n)
{
  const rfc822_tokens *tk = &l->tok;
  sa tmp = SA_ZERO;
  size_t pos = 0;
  int ingroup = 0, r;

  l->len = 0;
  l->err = 0;
  if (!sa_copyb(&l->text, "", 0)) return -1;
  r = rfc822_tokenize(&l->tok, s, n);
  if (r != 1) { l->err = l->tok.err; return r; }

  while (pos < tk->len) {
    size_t j, lt = 0, gt = 0;
    int angle = 0;
    int type = tk->t[pos].type;

    if (type == ',') { ++pos; continue; }
    if (type == ';') {
      if (!ingroup) { l->err = "semicolon outside a group"; goto syntax; }
      if (!additem(l, RFC822_GROUPEND)) goto fail;
      ingroup = 0;
      ++pos;
      continue;
    }
    for (j = pos; j < tk->len; ++j) {
      type = tk->t[j].type;
      if (type == ',' || type == ';' || type == ':') break;
      if (type == '>') { l->err = "unbalanced angle bracket"; goto syntax; }
      if (type != '<') continue;
      if (angle) { l->err = "two angle addresses in one mailbox"; goto syntax; }
      angle = 1;
      lt = j;
      for (++j; j < tk->len; ++j) {
        if (tk->t[j].type == '>') break;
        if (tk->t[j].type == '<') { l->err = "unbalanced angle bracket"; goto syntax; }
      }
      if (j == tk->len) { l->err = "unbalanced angle bracket"; goto syntax; }
      gt = j;
    }
    if (j < tk->len && tk->t[j].type == ':') {
      rfc822_item *it;
      size_t off = l->text.len;
      if (angle) { l->err = "colon after an angle address"; goto syntax; }
      if (ingroup) { l->err = "group inside a group"; goto syntax; }
      if (!catphrase(&l->text, &tmp, tk, pos, j)) goto fail;
      if (!(it = additem(l, RFC822_GROUP))) goto fail;
      it->phrase = off;
      it->phraselen = l->text.len - off;
      ingroup = 1;
      pos = j + 1;
      continue;
    }
    if (angle) {
      size_t k, it, off;
      for (k = gt + 1; k < j; ++k)
        if (tk->t[k].type != RFC822_COMMENT) { l->err = "text after an angle address"; goto syntax; }
      if (!additem(l, RFC822_MAILBOX)) goto fail;
      it = l->len - 1;
      l->i[it].angle = 1;
      off = l->text.len;
      if (!catphrase(&l->text, &tmp, tk, pos, lt)) goto fail;
      l->i[it].phrase = off;
      l->i[it].phraselen = l->text.len - off;
      r = addrspec(l, it, lt + 1, gt, 1);
      if (r == 0) goto syntax;
      if (r == -1) goto fail;
      if (!comments(l, it, gt + 1, j)) goto fail;
    } else {
      r = bare(l, pos, j);
      if (r == 0) goto syntax;
      if (r == -1) goto fail;
    }
    pos = j;
  }
  if (ingroup) { l->err = "group without a semicolon"; goto syntax; }
  sa_free(&tmp);
  return 1;
syntax:
  sa_free(&tmp);
  return 0;
fail:
  sa_free(&tmp);
  return -1;
}

int rfc822_setaddr(rfc822_list *l, size_t k, const char *local, size_t ln,
                   int at, const char *domain, size_t dn)
{
  size_t off = l->text.len, want;
  if (!size_add(&want, ln, dn)) return 0;
  if (!sa_readyplus(&l->text, want)) return 0;
  memcpy(l->text.s + off, local, ln);
  memcpy(l->text.s + off + ln, domain, dn);
  l->text.len = off + want;
  l->i[k].local = off;
  l->i[k].locallen = ln;
  l->i[k].domain = off + ln;
  l->i[k].domainlen = at ? dn : 0;
  l->i[k].at = at;
  return 1;
}

int rfc822_addr(sa *out, const rfc822_list *l, size_t k)
{
  const rfc822_item *x = l->i + k;
  if (!sa_catb(out, l->text.s + x->local, x->locallen)) return 0;
  if (!x->at) return 1;
  if (!sa_append(out, '@')) return 0;
  return sa_catb(out, l->text.s + x->domain, x->domainlen);
}

int rfc822_renderaddr(sa *out, const char *local, size_t ln, int at,
                      const char *domain, size_t dn)
{
  if (!ln && !at) return sa_readyplus(out, 0);
  if (!quote_cat(out, local, ln)) return 0;
  if (!at) return 1;
  if (!sa_append(out, '@')) return 0;
  /* quoted unless a dot-atom or a literal: x@"a, evil@attacker.example"
   * must not read back as two addresses */
  return quote_domain(out, domain, dn);
}

/* item - one mailbox or group name as it is printed */
static int item(sa *out, const rfc822_list *l, const rfc822_item *x)
{
  const char *t = l->text.s;
  if (x->kind == RFC822_GROUP)
    return sa_catb(out, t + x->phrase, x->phraselen) && sa_append(out, ':');
  if (x->angle) {
    if (x->phraselen && (!sa_catb(out, t + x->phrase, x->phraselen) || !sa_append(out, ' ')))
      return 0;
    if (!sa_append(out, '<')) return 0;
  }
  /* a bare "" is an address too: without its quotes it would vanish */
  if (!x->angle && !x->locallen && !x->at) {
    if (!sa_cats(out, "\"\"")) return 0;
  } else if (!rfc822_renderaddr(out, t + x->local, x->locallen, x->at, t + x->domain, x->domainlen))
    return 0;
  if (x->angle && !sa_append(out, '>')) return 0;
  if (x->commentlen)
    if (!sa_append(out, ' ') || !sa_catb(out, t + x->comment, x->commentlen)) return 0;
  return 1;
}

int rfc822_render(sa *out, const rfc822_list *l, size_t col)
{
  sa piece = SA_ZERO;
  size_t k;
  int prev = 0;   /* kind of the previous item, 0 at the start */
  int e;

  if (!sa_readyplus(out, 0)) return 0;
  for (k = 0; k < l->len; ++k) {
    const rfc822_item *x = l->i + k;
    if (x->kind == RFC822_GROUPEND) {
      if (!sa_cats(out, prev == RFC822_GROUP ? " ;" : ";")) goto fail;
      col += 2;
      prev = RFC822_GROUPEND;
      continue;
    }
    piece.len = 0;
    if (!item(&piece, l, x)) goto fail;
    if (prev == RFC822_GROUP) {
      if (!sa_append(out, ' ')) goto fail;
      ++col;
    } else if (prev) {
      if (!sa_append(out, ',')) goto fail;
      if (col + 2 + piece.len > WIDTH) {
        if (!sa_cats(out, "\n  ")) goto fail;
        col = 2;
      } else {
        if (!sa_append(out, ' ')) goto fail;
        col += 2;
      }
    }
    if (!sa_catb(out, piece.s, piece.len)) goto fail;
    col += piece.len;
    prev = x->kind;
  }
  sa_free(&piece);
  return 1;
fail:
  e = errno;
  sa_free(&piece);
  errno = e;
  return 0;
}
