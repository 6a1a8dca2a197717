/* qmail-smtpd - receive mail via SMTP and hand it to qmail-queue.
 * Runs under tcpserver as qmaild (or on stdin/stdout for sendmail -bs).
 * Everything from the peer is bounded: a command line by LINEMAX, an
 * address by SMTPD_ADDRMAX, the recipients by control/maxrcpt, and the
 * message streams through a fixed buffer (qmail-smtpd-data.c). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qmail-smtpd.h"
#include "auto.h"
#include "control.h"
#include "fmt.h"
#include "netserve.h"
#include "rcpthosts.h"
#include "received.h"
#include "say.h"
#include "scan.h"
#include "sig.h"
#include "str.h"
#include "utf8.h"

/* a command line longer than this (without CR LF) gets 500 and is dropped */
#define LINEMAX 2048
#define MAXHOPS 100

static char inbuf[BIO_SIZE];
bio smtpd_in;
static unsigned timeout = 1200;

static qmail qq;
static int qqopen;   /* qq has a running qmail-queue (idle from MAIL until DATA) */
static int qqidle;   /* ... and nothing has been written to it */

/* qq_stop - end an unfinished qmail-queue so that nothing is queued. An
 * idle one holds no file yet (it waits for its input), so it is simply
 * terminated: at end of file it would make its files only to remove them. */
static void qq_stop(void)
{
  if (!qqopen) return;
  if (qqidle) kill(qq.pid, SIGTERM);
  qmail_fail(&qq);
  qmail_close(&qq);
  qqopen = qqidle = 0;
}

static noreturn void bye(int code)
{
  reply_flush();
  qq_stop();
  _exit(code);
}

/* die_write - the client is gone or stuck: nothing half-received is queued */
noreturn void die_write(void)
{
  qq_stop();
  _exit(111);
}

void smtpd_flush(void) { if (!reply_flush()) die_write(); }

static noreturn void die_read(void) { bye(0); }
noreturn void smtpd_close(void) { bye(0); }
static noreturn void die_alarm(void) { out("421 timeout (#4.4.2)\r\n"); bye(111); }
noreturn void die_nomem(void) { out("421 out of memory (#4.3.0)\r\n"); bye(111); }
static noreturn void die_control(void) { out("421 unable to read controls (#4.3.0)\r\n"); bye(111); }
noreturn void die_ipme(void) { out("421 unable to figure out my IP addresses (#4.3.0)\r\n"); bye(111); }
noreturn void straynewline(void)
{
  out("451 See https://cr.yp.to/docs/smtplf.html.\r\n");
  bye(111);
}

/* smtpd_feed - wait for input; replies go out first so a pipelining
 * client that waits for them is never left hanging */
void smtpd_feed(void)
{
  ssize_t r;
  if (bio_avail(&smtpd_in)) return;
  if (!reply_flush()) die_write();
  r = bio_feed(&smtpd_in);
  if (r == -1 && errno == ETIMEDOUT) die_alarm();
  if (r <= 0) die_read();
}

/* the control files and the connection */
static sa greeting = SA_ZERO, liphost = SA_ZERO;
static int liphostok;
static rcpthosts rh;
static sa bmf = SA_ZERO;
static const char **bmfsorted;
static size_t nbmf;
static unsigned long databytes, maxrcpt = 1000;
static struct received_peer peer;
static const char *relayclient;

static int cmpstr(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* setup - control files and the tcpserver environment */
static void setup(void)
{
  sa me = SA_ZERO;
  size_t i, k;

  if (chdir(auto_home) == -1) die_control();
  if (control_me(&me) == -1 || !sa_0(&me)) die_control();
  if (control_rldef(&greeting, "control/smtpgreeting", me.s) == -1) die_control();
  if (control_rldef(&liphost, "control/localiphost", me.s) == -1) die_control();
  liphostok = liphost.len > 0;
  if (netserve_limits(&databytes, &timeout) == -1) die_control();
  if (rcpthosts_init(&rh) == -1) die_control();
  if (control_readfile(&bmf, "control/badmailfrom") == -1) die_control();
  case_lowerb(bmf.s, bmf.len);
  for (i = 0; i < bmf.len; ++i) if (!bmf.s[i]) ++nbmf;
  bmfsorted = calloc(nbmf + 1, sizeof *bmfsorted);
  if (!bmfsorted) die_nomem();
  for (i = k = 0; i < bmf.len; i += strlen(bmf.s + i) + 1) bmfsorted[k++] = bmf.s + i;
  qsort(bmfsorted, nbmf, sizeof *bmfsorted, cmpstr);
  if (control_readnum(&maxrcpt, "control/maxrcpt", control_warn2) == -1) die_control();
  if (!maxrcpt) maxrcpt = 1;
  if (spf_setup() == -1) die_control();
  if (!rcpt_setup(me.s)) die_control();
  sa_free(&me);

  received_peer(&peer);
  relayclient = getenv("RELAYCLIENT");
  tls_init();
}

/* the session */
static sa helohost = SA_ZERO;
static const char *fakehelo;     /* the HELO name when it differs from remotehost */
static sa addr = SA_ZERO, mailfrom = SA_ZERO, rcptto = SA_ZERO;
static size_t params;
static int seenmail, flagbarf;
static int utf8mail;             /* this transaction said SMTPUTF8 */
static int bdatopen;             /* a BDAT message is under way in qq */
static unsigned long bdatqp;
static unsigned long nrcpt;

/* abort_msg - drop a BDAT message that RSET, HELO or EHLO interrupts */
static void abort_msg(void)
{
  if (!bdatopen) return;
  qmail_fail(&qq);
  qmail_close(&qq);
  qqopen = bdatopen = 0;
}

/* smtpd_forget - RFC 3207: after STARTTLS nothing said before counts */
void smtpd_forget(void)
{
  abort_msg();
  seenmail = 0;
  utf8mail = 0;
  nrcpt = 0;
  rcptto.len = 0;
  helohost.len = 0;
  fakehelo = 0;
  auth_reset();
}

static void dohelo(const char *arg, size_t len)
{
  if (!sa_copyb(&helohost, arg, len) || !sa_0(&helohost)) die_nomem();
  fakehelo = case_diffs(peer.remotehost, helohost.s) ? helohost.s : 0;
}

static int bmflisted(const char *s, size_t n)
{
  size_t lo = 0, hi = nbmf, mid;
  int c;
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    c = strncmp(s, bmfsorted[mid], n);
    if (!c) c = bmfsorted[mid][n] ? -1 : 0;
    if (!c) return 1;
    if (c < 0) hi = mid; else lo = mid + 1;
  }
  return 0;
}

/* bmfcheck - is the sender (in addr) listed in badmailfrom, as itself or
 * as @domain? */
static int bmfcheck(void)
{
  sa low = SA_ZERO;
  size_t at;
  int r = 0;
  if (!nbmf) return 0;
  if (!sa_copy(&low, &addr)) die_nomem();
  case_lowerb(low.s, low.len);
  if (bmflisted(low.s, low.len)) r = 1;
  at = byte_rchr(low.s, low.len, '@');
  if (!r && at < low.len && bmflisted(low.s + at, low.len - at)) r = 1;
  sa_free(&low);
  return r;
}

static void greet(const char *code) { out(code); outb(greeting.s, greeting.len); }

static void smtp_helo(const char *arg, size_t len)
{
  reply_esc(0);                  /* HELO: qmail's own wording */
  greet("250 "); out("\r\n");
  abort_msg(); seenmail = 0; dohelo(arg, len);
}

static void smtp_ehlo(const char *arg, size_t len)
{
  char num[FMT_ULONG];
  reply_esc(0);                  /* RFC 2034: no codes in the EHLO reply */
  greet("250-"); out("\r\n250-PIPELINING\r\n250-8BITMIME\r\n");
  if (tls_offer()) out("250-STARTTLS\r\n");
  auth_ehlo();
  if (databytes) { out("250-SIZE "); outb(num, fmt_ulong(num, databytes)); out("\r\n"); }
  else out("250-SIZE\r\n");
  out("250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
  reply_esc(1);
  abort_msg(); seenmail = 0; dohelo(arg, len);
}

static void smtp_rset(const char *arg, size_t len) { (void)arg; (void)len; abort_msg(); seenmail = 0; out("250 flushed\r\n"); }
static void smtp_noop(const char *arg, size_t len) { (void)arg; (void)len; out("250 ok\r\n"); }
static void smtp_vrfy(const char *arg, size_t len) { (void)arg; (void)len; out("252 send some mail, i'll try my best\r\n"); }
static void smtp_help(const char *arg, size_t len) { (void)arg; (void)len; out("214 qmail-compatible SMTP server; see qmail-smtpd(8)\r\n"); }
static void smtp_unimpl(const char *arg, size_t len) { (void)arg; (void)len; out("502 unimplemented (#5.5.1)\r\n"); }
static void smtp_quit(const char *arg, size_t len) { (void)arg; (void)len; greet("221 "); out("\r\n"); bye(0); }

/* utf8mailok - an address (in addr) with 8-bit bytes needs SMTPUTF8
 * (RFC 6531 3.4), and then must be well-formed UTF-8; 0 after refusing */
static int utf8mailok(int utf8, const char *what)
{
  if (utf8_ascii(addr.s, addr.len)) return 1;
  if (!utf8) {
    out("553 sorry, a non-ASCII address needs MAIL FROM with SMTPUTF8 (#5.6.7)\r\n");
    return 0;
  }
  if (!utf8_valid(addr.s, addr.len)) {
    out("553 sorry, that "); out(what); out(" address is not valid UTF-8 (#5.6.7)\r\n");
    return 0;
  }
  return 1;
}

/* qq_early - start qmail-queue as soon as MAIL is accepted, so that its
 * exec and its first files overlap the RCPT and DATA round trips; an idle
 * one serves the next MAIL, and the session's end stops it (it leaves no
 * file). Only our own qmail-queue, which reads no environment: a
 * QMAILQUEUE filter starts at DATA and sees the environment of then. A
 * failure here is not an answer: DATA tries again. */
static void qq_early(void)
{
  const char *x = getenv("QMAILQUEUE");
  if (qqopen || (x && *x)) return;
  /* the client has MAIL's answer first: the start (a vfork, which holds
   * us until the exec) overlaps its next command */
  smtpd_flush();
  if (qmail_open(&qq) == 0) qqopen = qqidle = 1;
}

/* smtp_mail - MAIL: check the sender and start a transaction */
static void smtp_mail(const char *arg, size_t len)
{
  int utf8;
  reply_okcode("2.1.0");
  if (!auth_mailok()) return;
  if (bdatopen) { out("503 sorry, a BDAT message is under way (#5.5.1)\r\n"); return; }
  if (!addr_parse(&addr, arg, len, &params, liphostok ? &liphost : 0)) {
    out(addr_err);
    return;
  }
  utf8 = param_has(arg + params, len - params, "SMTPUTF8");
  if (!utf8mailok(utf8, "sender")) return;
  if (databytes && param_size(arg + params, len - params) > databytes) {
    out("552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n");
    return;
  }
  flagbarf = bmfcheck();
  if (!sa_0(&addr)) die_nomem();
  if (!spf_mail(addr.s, helohost.s, peer.remoteip)) return;
  --addr.len;
  seenmail = 1;
  utf8mail = utf8;
  nrcpt = 0;
  rcptto.len = 0;
  if (!sa_copy(&mailfrom, &addr) || !sa_0(&mailfrom)) die_nomem();
  out("250 ok\r\n");
  qq_early();
}

/* smtp_authcmd - AUTH: a good login relays as RELAYCLIENT="" would */
static void smtp_authcmd(const char *arg, size_t len)
{
  if (seenmail) { out("503 no AUTH during a mail transaction (#5.5.1)\r\n"); return; }
  smtp_auth(arg, len);
  if (auth_user() && !relayclient) relayclient = "";
}

/* smtp_rcpt - RCPT: check one recipient against the limits, rcpthosts
 * and what delivery would do with it (qmail-smtpd-rcpt.c) */
static void smtp_rcpt(const char *arg, size_t len)
{
  int r;
  reply_okcode("2.1.5");
  if (!seenmail) { out("503 MAIL first (#5.5.1)\r\n"); return; }
  if (bdatopen) { out("503 sorry, a BDAT message is under way (#5.5.1)\r\n"); return; }
  if (!addr_parse(&addr, arg, len, &params, liphostok ? &liphost : 0)) {
    out(addr_err);
    return;
  }
  if (!utf8mailok(utf8mail, "recipient")) return;
  /* <> and box@ name no mailbox: refused even for relay clients */
  if (!addr.len || addr.s[addr.len - 1] == '@') {
    out("553 sorry, that is not a valid recipient address (#5.1.3)\r\n");
    return;
  }
  if (flagbarf) { out("553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)\r\n"); return; }
  if (nrcpt >= maxrcpt) { out("452 sorry, too many recipients (#4.5.3)\r\n"); return; }
  if (relayclient) {
    if (!sa_cats(&addr, relayclient)) die_nomem();
  }
  else {
    r = rcpthosts_check(&rh, addr.s, addr.len);
    if (r == -1) die_control();
    if (!r && !rh.flagrh)   /* no control/rcpthosts: closed, and the log says why */
      say(2, "qmail-smtpd: relaying refused for ", peer.remoteip, ": control/rcpthosts is missing\n", NULL);
    if (!r) { out("553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n"); return; }
  }
  /* the address as it will be queued, checked as delivery would take it */
  r = rcpt_check(addr.s, addr.len);
  if (r == RCPT_UNKNOWN) { out("550 sorry, no mailbox here by that name (#5.1.1)\r\n"); return; }
  if (r == RCPT_TEMP) { out("451 unable to verify that recipient now, try again later (#4.3.0)\r\n"); return; }
  if (!sa_append(&rcptto, 'T') || !sa_cat(&rcptto, &addr) || !sa_0(&rcptto)) die_nomem();
  ++nrcpt;
  out("250 ok\r\n");
}

/* startmsg - qmail-queue for a new message, with our Received line;
 * 0 when it cannot be started */
static int startmsg(unsigned long *qp)
{
  sa rec = SA_ZERO, proto = SA_ZERO;
  if (!qqopen) {                 /* none started at MAIL */
    if (qmail_open(&qq) == -1) return 0;
    qqopen = 1;
  }
  qqidle = 0;
  *qp = qmail_qp(&qq);
  /* RFC 3848 and RFC 6531: SMTP, ESMTPS, ESMTPSA ..., UTF8SMTP, UTF8SMTPSA ... */
  if (!sa_copys(&proto, tls_proto()) || !auth_proto(&proto)) die_nomem();
  if (utf8mail) {
    sa u = SA_ZERO;
    size_t skip = sa_starts(&proto, "ESMTP") ? 5 : sa_starts(&proto, "SMTP") ? 4 : 0;
    if (!sa_copys(&u, "UTF8SMTP") || !sa_catb(&u, proto.s + skip, proto.len - skip) || !sa_copy(&proto, &u))
      die_nomem();
    sa_free(&u);
  }
  if (!sa_0(&proto)) die_nomem();
  if (!received_fmt(&rec, proto.s, peer.local, peer.remoteip, peer.remotehost,
                    peer.remoteinfo, fakehelo, time(0)))
    die_nomem();
  spf_header(&qq);
  qmail_put(&qq, rec.s, rec.len);
  sa_free(&rec);
  sa_free(&proto);
  return 1;
}

/* endmsg - the envelope after the message, and the answer for it */
static void endmsg(unsigned long qp, unsigned long hops, int toobig)
{
  char num[FMT_ULONG];
  const char *qqx;

  if (hops >= MAXHOPS) qmail_fail(&qq);
  qmail_fromb(&qq, mailfrom.s, mailfrom.len - 1);
  qmail_put(&qq, rcptto.s, rcptto.len);
  qqx = qmail_close(&qq);
  qqopen = 0;
  if (!*qqx) {
    out("250 ok ");
    outb(num, fmt_ulong(num, (unsigned long)time(0)));
    out(" qp ");
    outb(num, fmt_ulong(num, qp));
    out("\r\n");
    return;
  }
  if (hops >= MAXHOPS) { out("554 too many hops, this message is looping (#5.4.6)\r\n"); return; }
  if (toobig) { out("552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n"); return; }
  /* a refusal that names its own reply code (a QMAILQUEUE filter's
   * "D550 ..." on fd 6) keeps it, when its class matches D or Z */
  if (qqx[1] == (*qqx == 'D' ? '5' : '4') && qqx[2] >= '0' && qqx[2] <= '9'
      && qqx[3] >= '0' && qqx[3] <= '9' && qqx[4] == ' ')
    out(qqx + 1);
  else { out(*qqx == 'D' ? "554 " : "451 "); out(qqx + 1); }
  out("\r\n");
}

/* smtp_data - DATA: the message through qmail-queue, and the answer */
static void smtp_data(const char *arg, size_t len)
{
  unsigned long hops = 0;
  unsigned long qp;
  int toobig = 0;

  (void)arg; (void)len;
  if (!seenmail) { out("503 MAIL first (#5.5.1)\r\n"); return; }
  if (bdatopen) { out("503 sorry, a BDAT message is under way (#5.5.1)\r\n"); return; }
  if (!nrcpt) { out("503 RCPT first (#5.5.1)\r\n"); return; }
  seenmail = 0;
  if (!startmsg(&qp)) { out("451 qqt failure (#4.3.0)\r\n"); return; }
  out("354 go ahead\r\n");
  data_blast(&qq, databytes, &hops, &toobig);
  endmsg(qp, hops, toobig);
}

/* smtp_bdat - BDAT size [LAST] (RFC 3030): one chunk of the message. The
 * chunk is read whatever the answer, so the session stays in step. */
static void smtp_bdat(const char *arg, size_t len)
{
  unsigned long n, hops = 0;
  size_t k;
  int last = 0, toobig = 0;

  k = scan_ulongn(arg, len, &n);
  if (k) {
    while (k < len && arg[k] == ' ') ++k;
    if (len - k >= 4 && !case_diffb(arg + k, 4, "LAST")) { last = 1; k += 4; }
    while (k < len && arg[k] == ' ') ++k;
  }
  if (!k || k != len) {          /* no size we can trust: nothing to skip */
    out("501 syntax error, say BDAT size [LAST] (#5.5.4)\r\n");
    return;
  }
  if (!seenmail) { bdat_skip(n); out("503 MAIL first (#5.5.1)\r\n"); return; }
  if (!nrcpt) { bdat_skip(n); out("503 RCPT first (#5.5.1)\r\n"); return; }
  if (!bdatopen) {
    if (!startmsg(&bdatqp)) { bdat_skip(n); seenmail = 0; out("451 qqt failure (#4.3.0)\r\n"); return; }
    bdatopen = 1;
    bdat_start(&qq, databytes);
  }
  bdat_chunk(n);
  if (bdat_toobig()) last = 1;   /* the limit is on the sum of the chunks */
  if (!last) {
    char num[FMT_ULONG];
    out("250 ok, "); outb(num, fmt_ulong(num, n)); out(" octets\r\n");
    return;
  }
  bdat_end(&hops, &toobig);
  bdatopen = 0;
  seenmail = 0;
  endmsg(bdatqp, hops, toobig);
}

static const struct command {
  const char *verb;
  void (*f)(const char *, size_t);
} commands[] = {
  { "rcpt", smtp_rcpt }, { "mail", smtp_mail }, { "data", smtp_data },
  { "quit", smtp_quit }, { "helo", smtp_helo }, { "ehlo", smtp_ehlo },
  { "rset", smtp_rset }, { "help", smtp_help }, { "noop", smtp_noop },
  { "vrfy", smtp_vrfy }, { "bdat", smtp_bdat }, { "starttls", smtp_starttls },
  { "auth", smtp_authcmd }, { 0, smtp_unimpl }
};

ssize_t smtpd_getline(char *buf, size_t max, int wipe)
{
  const char *p;
  size_t n, k, take, len = 0;
  int toolong = 0;

  for (;;) {
    smtpd_feed();
    p = bio_peek(&smtpd_in);
    n = bio_avail(&smtpd_in);
    k = byte_chr(p, n, '\n');
    take = k < n ? k + 1 : n;
    if (!toolong) {
      if (take > max + 2 - len) toolong = 1;
      else { memcpy(buf + len, p, take); len += take; }
    }
    if (wipe) explicit_bzero(bio_peek(&smtpd_in), take);
    bio_skip(&smtpd_in, take);
    if (k < n) break;
  }
  if (!toolong) {
    --len;                                         /* the LF */
    if (len && buf[len - 1] == '\r') --len;
    if (len <= max) return (ssize_t)len;
  }
  if (wipe) explicit_bzero(buf, len);
  return -1;
}

/* getcmd - the next command line into line, without its CR LF.
 * 1, or 0 when it was longer than LINEMAX (it has been read and dropped) */
static int getcmd(sa *line)
{
  ssize_t r = smtpd_getline(line->s, LINEMAX, 0);
  line->len = r < 0 ? 0 : (size_t)r;
  return r >= 0;
}

/* serve - read commands and run them until the session ends */
static noreturn void serve(void)
{
  sa line = SA_ZERO;
  size_t v, a;
  const struct command *c;

  if (!sa_ready(&line, LINEMAX + 3)) die_nomem();
  for (;;) {
    if (!getcmd(&line)) {
      reply_cmd("(a command line too long)", 25);
      out("500 sorry, command line too long (#5.5.2)\r\n");
      continue;
    }
    reply_cmd(line.s, line.len);
    v = byte_chr(line.s, line.len, ' ');
    for (a = v; a < line.len && line.s[a] == ' '; ++a) ;
    for (c = commands; c->verb; ++c)
      if (strlen(c->verb) == v && !case_diffb(line.s, v, c->verb)) break;
    reply_okcode("2.0.0");         /* a command may say better (RFC 3463) */
    c->f(line.s + a, line.len - a);
  }
}

/* norootnet - as root from tcpserver (tcpserver -u qmaild reads the name
 * as 0): say why on stderr, 421 to the client, exit 111 */
static void norootnet(void)
{
  if (netserve_noroot("qmail-smtpd")) return;
  out("421 this server is misconfigured to run as root (#4.3.0)\r\n");
  bye(111);
}

int main(int argc, char **argv)
{
  sig_ignore(SIGPIPE);
  sig_default(SIGCHLD);          /* an ignored SIGCHLD (swaks --pipe) hides qmail-queue's exit */
  auth_init(argc, argv);
  bio_init(&smtpd_in, 0, inbuf, sizeof inbuf);
  reply_init(1, 1200, "unknown");
  norootnet();
  setup();
  reply_init(1, timeout, peer.remoteip);
  smtpd_in.timeout = timeout;
  greet("220 ");
  out(" ESMTP\r\n");
  serve();
}
