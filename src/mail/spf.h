/* spf - Sender Policy Framework (RFC 7208) check_host(), libc only, with
 * DNS through dns.c. spf_check evaluates the policy of the MAIL FROM
 * domain (or of the HELO name when the sender is empty) for the client
 * address ip. Limits: 10 DNS-querying terms, 2 void lookups, 10 MX and PTR
 * names, and a deadline (deadline_ms, default 20000) over all queries;
 * past a limit the result is permerror (temperror for the deadline).
 * Returns the result; why (a static string) names the deciding term or
 * problem for logs; exp gets the explanation of a fail (empty if none).
 * Out of memory is temperror with why "out of memory". */
#ifndef SPF_H
#define SPF_H

#include "dns.h"
#include "ipaddr.h"
#include "sa.h"

enum spf_result {
  SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_TEMPERROR, SPF_PERMERROR
};

struct spf_query {
  const struct dns_conf *dns;
  struct ipaddr ip;
  const char *sender;      /* MAIL FROM address, may be "" */
  const char *helo;        /* HELO/EHLO argument */
  const char *receiver;    /* %{r}: our host name; 0 means "unknown" */
  unsigned deadline_ms;    /* 0: 20000 */
};

enum spf_result spf_check(const struct spf_query *q, sa *exp, const char **why);

/* spf_name - "pass", "fail", ... as RFC 7208 and RFC 8601 spell them */
const char *spf_name(enum spf_result r);

#endif
