#include <string.h>
#include <sys/stat.h>

#include "dotqmail.h"

int dq_safeext(sa *out, const char *ext)
{
  size_t i;

  if (!sa_copys(out, ext)) return 0;
  for (i = 0; i < out->len; ++i) {
    char c = out->s[i];
    if (c == '.') out->s[i] = ':';
    else if (c >= 'A' && c <= 'Z') out->s[i] = (char)(c + 32);
  }
  return 1;
}

int dq_name(sa *fn, const char *dash, const char *x, size_t n,
            const char *suffix)
{
  return sa_copys(fn, ".qmail") && sa_cats(fn, dash) && sa_catb(fn, x, n)
      && sa_cats(fn, suffix) && sa_0(fn);
}

int dq_search(sa *fn, const char *dash, const char *x, size_t n,
              int (*exists)(const char *name, void *ctx), void *ctx,
              size_t *defpos)
{
  size_t i;
  int r;

  *defpos = DQ_NODEFAULT;
  if (!dq_name(fn, dash, x, n, "")) return -1;
  r = exists(fn->s, ctx);
  if (r) {
    /* an exact name can end in "default" too: $DEFAULT is then "default" */
    if (r == 1 && n >= 7 && memcmp(x + n - 7, "default", 7) == 0)
      *defpos = n - 7;
    return r;
  }
  if (!*dash) return 0;
  /* i counts down from n to 0 inclusive; i == 0 is the last try */
  for (i = n + 1; i-- > 0;) {
    if (i && x[i - 1] != '-') continue;
    if (!dq_name(fn, dash, x, i, "default")) return -1;
    r = exists(fn->s, ctx);
    if (r == 1) { *defpos = i; return 1; }
    if (r) return -1;
  }
  return 0;
}

int dq_home(unsigned long mode, unsigned long patrn)
{
  if (mode & patrn) return DQ_WRITABLE;
  if (mode & S_ISVTX) return DQ_STICKY;
  return DQ_OK;
}

int dq_file(unsigned long mode, unsigned long patrn)
{
  if (!S_ISREG(mode)) return 0;
  if (mode & patrn) return DQ_WRITABLE;
  return DQ_OK;
}

int dq_find(sa *fn, sa *safeext, const char *dash, const char *ext,
            int (*exists)(const char *name, void *ctx), void *ctx,
            size_t *defpos)
{
  int r;

  if (!dq_safeext(safeext, ext)) return -1;
  r = dq_search(fn, dash, safeext->s, safeext->len, exists, ctx, defpos);
  if (r == -1) return -1;
  if (r == 1) return DQ_FILE;
  return *dash ? DQ_NOMAILBOX : DQ_DEFAULTDELIVERY;
}

int dq_finish(sa *text)
{
  if (text->s && text->len && text->s[text->len - 1] == '\n') return 1;
  return sa_append(text, '\n');
}

int dq_next(sa *text, size_t *pos, size_t *lineno, dq_line *out)
{
  char *s, *nl;
  size_t start = *pos, end, k;

  if (!text->s || start >= text->len) return 0;
  s = text->s;
  nl = memchr(s + start, '\n', text->len - start);
  if (!nl) return 0; /* no dq_finish: never write past the text */
  end = (size_t)(nl - s);
  *pos = end + 1;
  out->lineno = (*lineno)++;
  k = end;
  while (k > start && (s[k - 1] == ' ' || s[k - 1] == '\t')) --k;
  s[k] = 0;
  out->s = s + start;
  out->len = k - start;
  if (memchr(out->s, 0, out->len)) { out->type = DQ_NUL; return 1; }
  if (!out->len) { out->type = DQ_BLANK; return 1; }
  switch (out->s[0]) {
    case '#':
      out->type = DQ_COMMENT;
      break;
    case '|':
      out->type = DQ_PROGRAM;
      ++out->s; --out->len;
      break;
    case '.': case '/':
      out->type = out->s[out->len - 1] == '/' ? DQ_MAILDIR : DQ_MBOX;
      break;
    case '+':
      out->type = strcmp(out->s + 1, "list") == 0 ? DQ_LIST : DQ_IGNORE;
      break;
    case '&':
      out->type = DQ_FORWARD;
      ++out->s; --out->len;
      break;
    default:
      out->type = DQ_FORWARD;
      break;
  }
  return 1;
}
