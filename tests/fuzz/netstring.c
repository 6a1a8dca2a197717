/* netstring - the netstring reader as qmail-qmtpd and qmail-qmqpd use it:
 * a message netstring, then nested ones within a budget, then the comma.
 * No read may pass the budget, and what netstring_get returns must be no
 * longer than asked. */
#include <unistd.h>

#include "fuzz.h"
#include "bio.h"
#include "netstring.h"

void fuzz_one(const unsigned char *data, size_t len)
{
  static sa x = SA_ZERO;
  char buf[64];   /* small: netstrings cross refills */
  int fd = fuzz_fd(data, len);
  bio b;
  size_t n, budget, before;
  int r, rounds = 0;

  bio_init(&b, fd, buf, sizeof buf);
  while (rounds++ < 100) {
    r = netstring_getlen(&b, 0, 10000, &n);
    if (r != 1) break;
    if (n > 10000) fuzz_fail("length over max");
    budget = n;
    while (budget) {
      before = budget;
      r = netstring_get(&b, &budget, 1000, &x);
      if (r != 1) break;
      if (x.len > 1000) fuzz_fail("netstring over max");
      if (budget > before) fuzz_fail("budget grew");
    }
    if (r < 0 && r != -2) break;
    if (budget && netstring_skip(&b, &budget, budget) != 1) break;
    if (netstring_getcomma(&b, 0) != 1) break;
  }
  close(fd);
}
