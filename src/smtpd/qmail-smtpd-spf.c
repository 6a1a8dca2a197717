/* SPF at MAIL (RFC 7208): with control/spfpolicy "report" the result for
 * the MAIL FROM identity (the HELO name for a bounce) goes into an
 * Authentication-Results header (RFC 8601) in front of the message; with
 * "reject" a fail is also refused with 550 (#5.7.23) and a DNS error
 * answered 451 (#4.7.24). No control/spfpolicy: no SPF lookups at all.
 * The result is also left in $SPFRESULT for a QMAILQUEUE filter. Clients
 * with $RELAYCLIENT set (our own users) are not checked. */
#include <stdlib.h>
#include <string.h>

#include "qmail-smtpd.h"
#include "control.h"
#include "dns.h"
#include "spf.h"

static int policy;            /* 0 off, 1 report, 2 reject */
static sa me = SA_ZERO;
static sa header = SA_ZERO;   /* the Authentication-Results field for this MAIL */

int spf_setup(void)
{
  sa p = SA_ZERO;
  int r = control_readline(&p, "control/spfpolicy");
  if (r == -1) return -1;
  policy = 0;
  if (r == 1 && p.len == 6 && !memcmp(p.s, "report", 6)) policy = 1;
  if (r == 1 && p.len == 6 && !memcmp(p.s, "reject", 6)) policy = 2;
  sa_free(&p);
  if (policy && control_me(&me) == -1) return -1;
  return 0;
}

/* safe - what may go into a header unquoted: printable, no ; ( ) " or space */
static int cat_safe(sa *x, const char *s)
{
  for (; *s; ++s) {
    char c = *s;
    if ((unsigned char)c <= 32 || (unsigned char)c >= 127 || strchr(";()\"\\", c)) c = '?';
    if (!sa_append(x, c)) return 0;
  }
  return 1;
}

int spf_mail(const char *sender, const char *helo, const char *remoteip)
{
  struct dns_conf conf;
  struct spf_query q;
  sa exp = SA_ZERO;
  const char *why, *at;
  enum spf_result r;

  header.len = 0;
  if (!policy || !remoteip) return 1;
  if (getenv("RELAYCLIENT")) return 1;   /* our own users: their mail is not checked */
  memset(&q, 0, sizeof q);
  if (!ipaddr_scan(&q.ip, remoteip, strlen(remoteip))) return 1;
  dns_init(&conf, 0);
  q.dns = &conf;
  q.sender = sender;
  q.helo = helo ? helo : "";
  if (!sa_0(&me)) die_nomem();
  q.receiver = me.s;
  r = spf_check(&q, &exp, &why);
  sa_free(&exp);
  if (policy == 2 && r == SPF_FAIL) { out("550 SPF check failed for that sender and client (#5.7.23)\r\n"); return 0; }
  if (policy == 2 && r == SPF_TEMPERROR) { out("451 SPF check could not be done now (#4.7.24)\r\n"); return 0; }
  if (!sa_copys(&header, "Authentication-Results: ") || !sa_catb(&header, me.s, strlen(me.s)) ||
      !sa_cats(&header, ";\n\tspf=") || !sa_cats(&header, spf_name(r))) die_nomem();
  at = strrchr(sender, '@');
  if (*sender) {
    if (!sa_cats(&header, " smtp.mailfrom=") || !cat_safe(&header, at && at[1] ? at + 1 : sender)) die_nomem();
  } else if (!sa_cats(&header, " smtp.helo=") || !cat_safe(&header, q.helo)) die_nomem();
  if (!sa_cats(&header, "\n")) die_nomem();
  if (setenv("SPFRESULT", spf_name(r), 1) == -1) die_nomem();
  return 1;
}

void spf_header(qmail *q)
{
  if (header.len) qmail_put(q, header.s, header.len);
}
