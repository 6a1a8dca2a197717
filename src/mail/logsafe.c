#include "logsafe.h"

int logsafe_cat(sa *out, const char *s, size_t n)
{
  size_t i, start;

  if (!sa_readyplus(out, n)) return 0;
  start = out->len;
  if (!sa_catb(out, s, n)) return 0;
  for (i = start; i < out->len; ++i) {
    unsigned char c = (unsigned char)out->s[i];
    if (c == '\n') out->s[i] = '/';
    else if (c == '%' || c < 33 || c > 126) out->s[i] = '_';
  }
  return 1;
}
