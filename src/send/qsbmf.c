#include "qsbmf.h"

int qsbmf_para(sa *out, const char *recip, const char *report, size_t rlen)
{
  size_t start, i, body;

  if (!out->s && !sa_copyb(out, "", 0)) return 0;
  start = out->len;
  if (!sa_append(out, '<') || !sa_cats(out, recip)) return 0;
  for (i = start; i < out->len; ++i) if (out->s[i] == '\n') out->s[i] = '_';
  if (!sa_cats(out, ">:\n")) return 0;
  body = out->len;
  if (!sa_catb(out, report, rlen)) return 0;
  if (rlen && report[rlen - 1] != '\n' && !sa_append(out, '\n')) return 0;
  /* each newline that follows a newline, except the very last byte, would
   * end the paragraph early: it becomes '/'. Right to left, as qmail does. */
  for (i = out->len - 1; i-- > body;) {
    if (out->s[i] == '\n' && out->s[i - 1] == '\n') out->s[i] = '/';
  }
  return sa_append(out, '\n');
}
