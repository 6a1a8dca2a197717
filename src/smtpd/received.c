#include <stdlib.h>
#include <string.h>

#include "received.h"
#include "date822.h"

static int safe(unsigned char c)
{
  if (c >= 'a' && c <= 'z') return 1;
  if (c >= 'A' && c <= 'Z') return 1;
  if (c >= '0' && c <= '9') return 1;
  return c && strchr(".@%+/=:-[]", c) != 0;
}

/* catsafe - append s with every unsafe byte shown as '?' */
static int catsafe(sa *out, const char *s)
{
  size_t n = strlen(s), i;
  if (!sa_readyplus(out, n)) return 0;
  for (i = 0; i < n; ++i) out->s[out->len++] = safe((unsigned char)s[i]) ? s[i] : '?';
  return 1;
}

int received_fmt(sa *out, const char *proto, const char *local, const char *remoteip,
                 const char *remotehost, const char *remoteinfo, const char *helo, time_t when)
{
  if (!sa_cats(out, "Received: from ") || !catsafe(out, remotehost)) return 0;
  if (helo)
    if (!sa_cats(out, " (HELO ") || !catsafe(out, helo) || !sa_cats(out, ")")) return 0;
  if (!sa_cats(out, " (")) return 0;
  if (remoteinfo)
    if (!catsafe(out, remoteinfo) || !sa_cats(out, "@")) return 0;
  if (!catsafe(out, remoteip) || !sa_cats(out, ")\n  by ") || !catsafe(out, local)) return 0;
  if (!sa_cats(out, " with ") || !sa_cats(out, proto) || !sa_cats(out, "; ")) return 0;
  if (!date822_fmt_utc(out, when)) return 0;
  return sa_cats(out, "\n");
}

static const char *envor(const char *name, const char *def)
{
  const char *x = getenv(name);
  return x ? x : def;
}

void received_peer(struct received_peer *p)
{
  p->local = envor("TCPLOCALHOST", envor("TCPLOCALIP", "unknown"));
  p->remoteip = envor("TCPREMOTEIP", "unknown");
  p->remotehost = envor("TCPREMOTEHOST", "unknown");
  p->remoteinfo = getenv("TCPREMOTEINFO");
}
