/* qmail-rcptcheck - would local delivery accept this address?
 * (qmail-rcptcheck(8)). qmail-smtpd runs it, as qmaild, for each RCPT
 * that qmail-send's rewriting (rewrite_rcpt) makes local and that
 * users/cdb does not answer (qmail-smtpd decides the others itself, with
 * the same function), and answers the client by its exit code: 0
 * accept, 100 refuse (delivery would bounce with "no mailbox here by
 * that name"), 111 cannot tell now. The address is the one qmail-lspawn
 * would get: after the locals and virtualdomains rewriting, with any
 * virtualdomains prepend. The decision is rcptcheck() (rcptcheck.c),
 * given the password database through getpw_answer: this program exists
 * because getpwnam needs NSS, which the static qmail-smtpd does without.
 * Untrusted input: the address (from the SMTP client), handed to
 * rcptcheck() as it came (doc/rcptcheck.md). */
#include <string.h>
#include <unistd.h>

#include "sa.h"
#include "say.h"

#include "auto.h"
#include "getpw.h"

#include "rcptcheck.h"

/* 100 means "no mailbox" and nothing else, so a usage error is 111 */
static noreturn void die_usage(void) { die(111, "usage: qmail-rcptcheck [--] address\n", NULL); }

int main(int argc, char **argv)
{
  sa log = SA_ZERO;
  const char *addr;
  size_t len;
  int r;

  if (argc >= 2 && !strcmp(argv[1], "--")) ++argv, --argc;
  if (argc != 2) die_usage();
  addr = argv[1];
  len = strlen(addr);
  if (chdir(auto_home) == -1) {
    rcptcheck_temp(&log, addr, len, "unable to switch to ", auto_home, ": ", say_errno(), " (#4.3.0)\n", NULL);
    die(111, log.len ? log.s : RCPTCHECK_NOMEM, NULL);
  }
  r = rcptcheck(addr, len, getpw_answer, &log);
  if (r == RCPTCHECK_TEMP) die(111, log.len ? log.s : RCPTCHECK_NOMEM, NULL);
  return r;
}
