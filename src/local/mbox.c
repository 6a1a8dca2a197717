#include <string.h>

#include "mbox.h"
#include "date822.h"

int mbox_fromline(sa *out, const char *sender, size_t len, time_t t)
{
  size_t i, at;

  if (!sa_copys(out, "From ")) return 0;
  at = out->len;
  if (!len) { sender = "MAILER-DAEMON"; len = 13; }
  if (!sa_catb(out, sender, len)) return 0;
  for (i = at; i < out->len; ++i) {
    unsigned char c = (unsigned char)out->s[i];
    if (c <= 32 || c == 127) out->s[i] = '-';
  }
  return sa_append(out, ' ') && date822_asctime(out, t) && sa_append(out, '\n');
}

static const char gts[64] =
  ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

/* putgt - n copies of '>' */
static int putgt(bio *out, size_t n)
{
  while (n) {
    size_t k = n < sizeof gts ? n : sizeof gts;
    if (!bio_put(out, gts, k)) return 0;
    n -= k;
  }
  return 1;
}

int mbox_quote(bio *out, mbox_quoter *q, const char *s, size_t n)
{
  size_t i = 0;

  while (i < n) {
    if (q->atstart) {
      char c = s[i];
      if (!q->nfrom && c == '>') { ++q->ngt; ++i; continue; }
      if (c == "From "[q->nfrom]) {
        ++i;
        if (++q->nfrom < 5) continue;
        if (!putgt(out, q->ngt + 1) || !bio_put(out, "From ", 5)) return 0;
        q->last = ' ';
      } else {
        /* not a From_ line: give back what was held */
        if (!putgt(out, q->ngt) || !bio_put(out, "From ", q->nfrom)) return 0;
      }
      q->atstart = 0;
      q->ngt = q->nfrom = 0;
      continue;
    }
    {
      const char *nl = memchr(s + i, '\n', n - i);
      size_t k = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
      if (!bio_put(out, s + i, k)) return 0;
      q->last = s[i + k - 1];
      i += k;
      if (nl) q->atstart = 1;
    }
  }
  return 1;
}

int mbox_quoteend(bio *out, mbox_quoter *q)
{
  if (q->ngt || q->nfrom) {
    if (!putgt(out, q->ngt) || !bio_put(out, "From ", q->nfrom)) return 0;
    q->last = q->nfrom ? "From "[q->nfrom - 1] : '>';
  }
  if (q->last && q->last != '\n' && !bio_put(out, "\n", 1)) return 0;
  return bio_put(out, "\n", 1);
}
