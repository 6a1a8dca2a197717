#include <errno.h>
#include <string.h>

#include "control.h"
#include "rewrite.h"
#include "str.h"

int rewrite_rcpt(sa *out, const char *r, size_t len, const rewrite_ctl *c)
{
  size_t at, i;
  const char *v;

  if (!sa_copyb(out, r, len)) return 0;
  if (!len) return REWRITE_LOCAL;
  at = byte_rchr(out->s, out->len, '@');
  if (at == out->len) {
    if (!sa_append(out, '@') || !sa_cats(out, c->envnoathost)) return 0;
  }
  /* percent hack: user%fqdn@domain -> user@fqdn, repeatedly */
  while (cmap_get(c->percenthack, out->s + at + 1, out->len - at - 1)) {
    size_t pct = byte_rchr(out->s, at, '%');
    if (pct == at) break;
    out->len = at;
    out->s[pct] = '@';
    at = pct;
  }
  if (cmap_get(c->locals, out->s + at + 1, out->len - at - 1)) return REWRITE_LOCAL;
  /* virtualdomains: the whole address, the domain, each .suffix, then "" */
  for (i = 0; i <= out->len; ++i) {
    if (i != 0 && i != at + 1 && i != out->len && !(i > at && out->s[i] == '.'))
      continue;
    v = cmap_get(c->vdoms, out->s + i, out->len - i);
    if (!v) continue;
    if (!*v) break;                /* an exception: not virtual */
    {
      size_t vlen = strlen(v), n;
      if (!size_add(&n, vlen, 1) || !sa_readyplus(out, n)) return 0;
      memmove(out->s + n, out->s, out->len);
      memcpy(out->s, v, vlen);
      out->s[vlen] = '-';
      out->len += n;
    }
    return REWRITE_LOCAL;
  }
  return REWRITE_REMOTE;
}

int rewrite_verp(sa *out, const char *sender, const char *recip)
{
  size_t slen = strlen(sender), rlen = strlen(recip), j, k;

  out->len = 0;
  if (slen >= 4 && !memcmp(sender + slen - 4, "-@[]", 4)) {
    j = byte_rchr(sender, slen - 4, '@');
    k = byte_rchr(recip, rlen, '@');
    if (k < rlen && j + 5 <= slen) {
      return sa_catb(out, sender, j)
          && sa_catb(out, recip, k)
          && sa_append(out, '=')
          && sa_catb(out, recip + k + 1, rlen - k - 1)
          && sa_append(out, '@')
          && sa_catb(out, sender + j + 1, slen - 5 - j);
    }
  }
  return sa_catb(out, sender, slen);
}

const char *rewrite_unprepend(const char *recip, const cmap *vdoms)
{
  size_t rlen = strlen(recip), at = byte_rchr(recip, rlen, '@'), i, dlen;
  const char *dom, *v;

  if (at == rlen) return recip;
  dom = recip + at + 1;
  dlen = rlen - at - 1;
  for (i = 0; i <= dlen; ++i) {
    if (i != 0 && i != dlen && dom[i] != '.') continue;
    v = cmap_get(vdoms, dom + i, dlen - i);
    if (!v) continue;
    if (!*v) break;
    {
      size_t vlen = strlen(v);
      if (vlen < at && !memcmp(recip, v, vlen) && recip[vlen] == '-')
        return recip + vlen + 1;
    }
    break;
  }
  return recip;
}

int rewrite_readmaps(cmap *locals, cmap *pct, cmap *vd, const sa *me)
{
  sa x = SA_ZERO;
  int r, ok = 0, e;

  r = control_readfile(&x, "control/locals");
  if (r == -1) goto out;
  if (r == 0 || !x.len) {
    if (!sa_copy(&x, me) || !sa_0(&x)) goto out;
  }
  if (!cmap_init(locals, x.s, x.len, 0)) goto out;
  if (control_readfile(&x, "control/percenthack") == -1 || !cmap_init(pct, x.s, x.len, 0)) {
    cmap_free(locals);
    goto out;
  }
  if (control_readfile(&x, "control/virtualdomains") == -1 || !cmap_init(vd, x.s, x.len, 1)) {
    cmap_free(locals);
    cmap_free(pct);
    goto out;
  }
  ok = 1;
out:
  e = errno;
  sa_free(&x);
  errno = e;
  return ok;
}
