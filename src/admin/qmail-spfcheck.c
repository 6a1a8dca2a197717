/* qmail-spfcheck - the SPF result (RFC 7208) for a client address, a
 * MAIL FROM address and a HELO name, as qmail-smtpd computes it.
 * Usage: qmail-spfcheck [-t ms] [-r receiver] ip sender helo
 * Prints three lines: the result (pass, fail, softfail, neutral, none,
 * temperror, permerror), the explanation of a fail (empty when none) and
 * what decided it. Exit 0 when a result was printed, 100 for bad usage,
 * 111 when out of memory. DNS from /etc/resolv.conf. */
#include <string.h>
#include <unistd.h>

#include "bio.h"
#include "say.h"
#include "scan.h"
#include "str.h"
#include "dns.h"
#include "spf.h"

static noreturn void die_usage(void) { die(100, "usage: qmail-spfcheck [-t ms] [-r receiver] ip sender helo\n", NULL); }

int main(int argc, char **argv)
{
  char buf[1024];
  bio ob = BIO_INIT(1, buf, sizeof buf);
  struct dns_conf conf;
  struct spf_query q = { 0 };
  unsigned long t = 0;
  const char *why;
  sa exp = SA_ZERO;
  enum spf_result r;
  int opt;

  while ((opt = getopt(argc, argv, "t:r:")) != -1)
    switch (opt) {
      case 't': if (!*optarg || optarg[scan_ulong(optarg, &t)] || !t || t > 60000) die_usage(); break;
      case 'r': q.receiver = optarg; break;
      default: die_usage();
    }
  if (argc - optind != 3) die_usage();
  if (!ipaddr_scan(&q.ip, argv[optind], strlen(argv[optind]))) die_usage();
  q.sender = argv[optind + 1];
  q.helo = argv[optind + 2];
  if (dns_init(&conf, 0) == -1) die(111, "qmail-spfcheck: fatal: unable to read /etc/resolv.conf\n", NULL);
  if (t) conf.timeout_ms = (unsigned)t;
  q.dns = &conf;
  r = spf_check(&q, &exp, &why);
  if (r == SPF_TEMPERROR && str_equal(why, "out of memory")) die(111, "qmail-spfcheck: fatal: out of memory\n", NULL);
  for (size_t i = 0; i < exp.len; ++i) if ((unsigned char)exp.s[i] < 32) exp.s[i] = '?';
  if (!bio_puts(&ob, spf_name(r)) || !bio_puts(&ob, "\n") || (exp.len && !bio_put(&ob, exp.s, exp.len)) ||
      !bio_puts(&ob, "\n") || !bio_puts(&ob, why) || !bio_puts(&ob, "\n") || !bio_flush(&ob))
    return 111;
  return 0;
}
