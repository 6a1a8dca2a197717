/* dns - the DNS reply parser: any packet, as the answer to an MX, A, AAAA
 * or CNAME query (the first byte picks which, the rest is the packet);
 * what comes back must be bounded and NUL-terminated. */
#include <string.h>

#include "fuzz.h"
#include "dns.h"

void fuzz_one(const unsigned char *data, size_t len)
{
  static const unsigned types[4] = { 15, 1, 28, 5 };
  static struct dns_answer a;
  size_t i;

  if (!len) return;
  if (dns_parse(data + 1, len - 1, "example.com", types[data[0] & 3], &a) != 0) return;
  if (a.n > DNS_MAXRR) fuzz_fail("more records than room");
  if (!memchr(a.canon, 0, sizeof a.canon)) fuzz_fail("canon not terminated");
  for (i = 0; i < a.n; ++i)
    if (!memchr(a.rr[i].name, 0, sizeof a.rr[i].name)) fuzz_fail("name not terminated");
}
