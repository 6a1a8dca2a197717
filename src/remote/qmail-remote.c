/* qmail-remote - send one message to one remote host by SMTP.
 * Usage: qmail-remote host sender recip...; the message is on fd 0.
 * Prints recipient reports (r, h, s) and one message report (K, Z, D),
 * each ending in NUL, and exits 0 (qmail-remote(8)). Runs as qmailr; all
 * input (arguments, DNS answers, the peer's replies) is untrusted, and
 * none of it ever reaches a shell. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "qmail-remote.h"
#include "bio.h"
#include "control.h"
#include "sa.h"
#include "scan.h"
#include "sig.h"
#include "str.h"
#include "timeoutconn.h"
#include "dns.h"
#include "ipme.h"
#include "quote.h"
#include "tcpto.h"
#include "auto.h"

static char outbuf[1024];
static bio ob = BIO_INIT(1, outbuf, sizeof outbuf);

void outb(const char *s, size_t n) { if (!bio_put(&ob, s, n)) _exit(0); }
void out(const char *s) { outb(s, strlen(s)); }
void zero(void) { outb("", 1); }
noreturn void zerodie(void) { zero(); bio_flush(&ob); _exit(0); }

noreturn void temp_nomem(void) { out("ZOut of memory. (#4.3.0)\n"); zerodie(); }
noreturn void temp_read(void) { out("ZUnable to read message. (#4.3.0)\n"); zerodie(); }
static noreturn void temp_oserr(void) { out("ZSystem resources temporarily unavailable. (#4.3.0)\n"); zerodie(); }
static noreturn void temp_noconn(void) { out("ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"); zerodie(); }
static noreturn void temp_dns(void) { out("ZSorry, I couldn't find any host by that name. (#4.1.2)\n"); zerodie(); }
static noreturn void temp_chdir(void) { out("ZUnable to switch to home directory. (#4.3.0)\n"); zerodie(); }
static noreturn void temp_control(void) { out("ZUnable to read control files. (#4.3.0)\n"); zerodie(); }
static noreturn void perm_nomx(void) { out("DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n"); zerodie(); }
static noreturn void perm_nullmx(void) { out("DSorry, that domain publishes a null MX: it accepts no mail. (#5.1.10)\n"); zerodie(); }
static noreturn void perm_sender(void) { out("DSorry, the envelope sender contains control characters. (#5.1.7)\n"); zerodie(); }
static noreturn void perm_senderdomain(void) { out("DSorry, the domain of the envelope sender is not valid. (#5.1.7)\n"); zerodie(); }
static noreturn void perm_ambigmx(void)
{
  out("DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
      "it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n");
  zerodie();
}
static noreturn void perm_usage(void)
{
  out("DI (qmail-remote) was invoked improperly. (#5.3.5)\n");
  zero();
  bio_flush(&ob);
  _exit(100);
}

static sa host = SA_ZERO;
static sa helohost = SA_ZERO;
static sa routes = SA_ZERO;
static sa sender = SA_ZERO;
static unsigned long port = 25;
static unsigned long timeoutconnect = 60;
static unsigned long timeoutremote = 1200;

static noreturn void perm_dns(void)
{
  size_t i;
  out("DSorry, I couldn't find any host named ");
  for (i = 0; i < host.len; ++i) {       /* the name as it came: printable only */
    char c = host.s[i];
    outb(c < 33 || c > 126 ? "?" : &c, 1);
  }
  out(". (#5.1.2)\n");
  zerodie();
}

static int safe(const char *s)
{
  for (; *s; ++s) if ((unsigned char)*s < 32 || *s == 127) return 0;
  return 1;
}

/* domainok - the text after the last '@' can go between < and > as it
 * is: the local part gets quoted, the domain cannot, so a '>' or a space
 * there would add ESMTP parameters of the sender's choosing */
static int domainok(const char *s)
{
  const char *at = strrchr(s, '@');
  if (!at) return 1;
  return !at[1 + strcspn(at + 1, " <>()\\\",;")];
}

/* getcontrols - timeouts, helohost and smtproutes */
static void getcontrols(void)
{
  /* a value that is no number means the default: fd 2 is our report, so
   * the warning is left to qmail-showctl */
  if (control_readnum(&timeoutremote, "control/timeoutremote", 0) == -1) temp_control();
  if (control_readnum(&timeoutconnect, "control/timeoutconnect", 0) == -1) temp_control();
  if (!timeoutremote) timeoutremote = 1;
  if (timeoutremote > 86400) timeoutremote = 86400;
  if (timeoutconnect > 86400) timeoutconnect = 86400;   /* fits an unsigned */
  switch (control_rldef(&helohost, "control/helohost", 0)) {
    case -1: temp_control();
    case 0: if (control_me(&helohost) == -1 || !helohost.len) temp_control();
  }
  if (!sa_0(&helohost)) temp_nomem();
  --helohost.len;
  if (!safe(helohost.s) || memchr(helohost.s, ' ', helohost.len)) temp_control();
  if (control_readfile(&routes, "control/smtproutes") == -1) temp_control();
}

/* route - the relay for host from smtproutes: "domain:relay[:port]", where
 * ".suffix" matches any subdomain and an empty domain matches everything.
 * The most specific line wins. Returns 1 and replaces host (and port) when
 * there is a relay; 0 for plain MX routing. */
static int route(void)
{
  size_t i, k, n, rlen, hl = host.len;
  const char *relay, *p;

  for (i = 0; i <= hl; ++i) {
    if (i && i < hl && host.s[i] != '.') continue;   /* host, .suffixes, "" */
    for (k = 0; k < routes.len; k += n + 1) {
      n = strlen(routes.s + k);
      p = routes.s + k;
      if (byte_chr(p, n, ':') != hl - i || hl - i == n) continue;  /* no colon: ignored */
      if (case_diffb(p, hl - i, host.s + i)) continue;
      relay = p + hl - i + 1;
      rlen = strlen(relay);
      if (!rlen) return 0;                /* empty relay: look up MX */
      if (relay[0] == '[') {
        size_t e = byte_chr(relay, rlen, ']');
        if (e == rlen) temp_control();
        n = e + 1;
      } else n = byte_chr(relay, rlen, ':');
      if (relay[n]) {
        if (relay[n] != ':' || !relay[n + 1]) temp_control();
        if (scan_ulong(relay + n + 1, &port) != strlen(relay + n + 1) || !port || port > 65535) temp_control();
      }
      if (!sa_copyb(&host, relay, n) || !sa_0(&host)) temp_nomem();
      --host.len;
      return 1;
    }
  }
  return 0;
}

static unsigned long seed(void)
{
  unsigned long s;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
    s = (unsigned long)time(0) + ((unsigned long)getpid() << 16);
  return s;
}

/* lookup - the addresses to try for host, or a report and exit */
static void lookup(dns_list *ips, int relayed)
{
  struct dns_conf conf;
  struct ipaddr ip;
  int r, partial = 0;

  if (relayed && (dns_literal(&ip, host.s) || ipaddr_scan(&ip, host.s, host.len))) {
    if (!dns_list_add(ips, &ip, 0)) temp_nomem();
    return;
  }
  if (dns_init(&conf, 0) == -1) temp_oserr();
  r = relayed ? dns_ip(&conf, ips, host.s, 0) : dns_mxip(&conf, ips, host.s, seed(), &partial);
  switch (r) {
    case DNS_MEM: temp_nomem();
    case DNS_SOFT: temp_dns();
    case DNS_HARD: perm_dns();
    case DNS_NULLMX: perm_nullmx();
  }
  if (!ips->len) { if (relayed || partial) temp_dns(); perm_nomx(); }
}

static struct smtpjob job;
static sa dkimsig = SA_ZERO;

/* addresses - the sender and recipients as they go on the wire; a
 * recipient that cannot gets its h report ready instead */
static void addresses(int argc, char **argv)
{
  size_t i;

  if (!safe(argv[2])) perm_sender();
  if (!domainok(argv[2])) perm_senderdomain();
  if (!quote_addr(&sender, argv[2], strlen(argv[2]))) temp_nomem();
  job.nrcpt = (size_t)argc - 3;
  job.rcpt = calloc(job.nrcpt, sizeof *job.rcpt);
  if (!job.rcpt) temp_nomem();
  for (i = 0; i < job.nrcpt; ++i) {
    const char *r = argv[3 + i];
    if (!safe(r)) job.rcpt[i].bad = "Sorry, the recipient address contains control characters. (#5.1.3)\n";
    else if (!domainok(r)) job.rcpt[i].bad = "Sorry, the domain of the recipient address is not valid. (#5.1.2)\n";
    else if (!quote_addr(&job.rcpt[i].addr, r, strlen(r))) temp_nomem();
  }
}

/* notme - the preference below which an address is not this host or one
 * of its fellow MXes; refuses a host whose best MX is this one */
static unsigned long notme(const dns_list *ips, int relayed)
{
  ipme me = IPME_ZERO;
  unsigned long prefme = ULONG_MAX;
  size_t i;

  if (!ipme_init(&me)) temp_oserr();
  if (!relayed)                          /* never deliver to ourselves or worse */
    for (i = 0; i < ips->len; ++i)
      if (ipme_is(&me, &ips->x[i].ip) && ips->x[i].pref < prefme) prefme = ips->x[i].pref;
  for (i = 0; i < ips->len; ++i) if (ips->x[i].pref < prefme) break;
  if (i == ips->len) perm_ambigmx();
  ipme_free(&me);
  return prefme;
}

int main(int argc, char **argv)
{
  dns_list ips = DNS_LIST_ZERO;
  struct ipaddr ip0;
  unsigned long prefme;
  struct sockaddr_storage ss;
  size_t i;
  int relayed, fd;

  sig_ignore(SIGPIPE);
  if (argc < 4) perm_usage();
  if (chdir(auto_home) == -1) temp_chdir();
  getcontrols();
  if (!sa_copys(&host, argv[1]) || !sa_0(&host)) temp_nomem();
  --host.len;
  relayed = route();
  job.domain = argv[1];
  if (relayed && !ipaddr_scan(&ip0, host.s, host.len) && host.s[0] != '[') job.relay = host.s;
  job.tls = tls_controls(argv[1]);
  if (job.tls == -1) temp_control();
  if (relayed)
    switch (auth_controls(host.s)) {
      case -1: temp_control();
      case -2: out("Zcontrol/smtpauth is readable by others than its owner; not using it. (#4.3.0)\n"); zerodie();
    }
  addresses(argc, argv);
  dkim_sign(&dkimsig);
  lookup(&ips, relayed);
  prefme = notme(&ips, relayed);

  for (i = 0; i < ips.len; ++i) {
    const struct ipaddr *ip = &ips.x[i].ip;
    if (ips.x[i].pref >= prefme) continue;
    if (tcpto_skip(ip)) continue;
    fd = socket(ip->af, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
      if (errno == EAFNOSUPPORT) continue;   /* no IPv6 here: next address */
      temp_oserr();
    }
    if (timeoutconn(fd, (struct sockaddr *)&ss, ipaddr_sockaddr(&ss, ip, (unsigned)port), (unsigned)timeoutconnect) == 0) {
      tcpto_err(ip, 0);
      job.fd = fd;
      job.partner = *ip;
      job.helohost = &helohost;
      job.sender = &sender;
      job.timeout = (unsigned)timeoutremote;
      job.dkimsig = &dkimsig;
      smtp(&job);
      /* back only when TLS failed with a peer that need not have it: the
       * same address again, on a new connection, in cleartext */
      close(fd);
      job.tls = 0;
      --i;
      continue;
    }
    tcpto_err(ip, errno == ETIMEDOUT);
    close(fd);
  }
  temp_noconn();
}
