/* qmail-qmtpd - receive mail via QMTP (cr.yp.to/proto/qmtp.txt) and hand
 * it to qmail-queue. Each package is a message netstring, a sender
 * netstring and a netstring of recipient netstrings; the answer is one
 * K/Z/D netstring per recipient, in order. A malformed netstring (a
 * length with anything but digits, a leading zero, too many digits, a
 * nested length past its parent, a missing comma) ends the connection
 * with exit 100. Memory is bounded: the message streams through, an
 * address is at most ADDRMAX bytes, and the answers are kept as at most
 * RUNSMAX runs of equal answers; once that many are used, every further
 * recipient of the package is deferred. */
#include <errno.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
#include "control.h"
#include "envaddr.h"
#include "fmt.h"
#include "grow.h"
#include "netserve.h"
#include "netstring.h"
#include "qmail.h"
#include "rcpthosts.h"
#include "received.h"
#include "say.h"
#include "scan.h"
#include "sig.h"

#define ADDRMAX 1000
#define LENMAX (SIZE_MAX / 2)
#define RUNSMAX 10000   /* runs of answers kept for one package */

static char inbuf[BIO_SIZE], outbuf[1024];
static bio in, out;
static qmail qq;
static int qqopen;

static noreturn void bye(int code)
{
  if (qqopen) { qmail_fail(&qq); qmail_close(&qq); }
  _exit(code);
}
static noreturn void badproto(void) { bye(100); }
static noreturn void resources(void) { bye(111); }

/* check - the status of a netstring read: go on only on 1 */
static void check(int r)
{
  if (r == 1) return;
  if (r == -1) resources();
  badproto();
}

static rcpthosts rh;
static unsigned long databytes, maxrcpt = 1000;
static struct received_peer peer;
static const char *relayclient;
static size_t relaylen;

/* setup - control files and the tcpserver environment */
static void setup(void)
{
  if (chdir(auto_home) == -1) resources();
  if (rcpthosts_init(&rh) == -1) resources();
  if (netserve_limits(&databytes, &in.timeout) == -1) resources();
  out.timeout = in.timeout;
  if (control_readnum(&maxrcpt, "control/maxrcpt", control_warn2) == -1) resources();
  if (!maxrcpt) maxrcpt = 1;
  relayclient = getenv("RELAYCLIENT");
  relaylen = relayclient ? strlen(relayclient) : 0;
  received_peer(&peer);
}

/* the answers of one package, as runs of equal status:
 * 0 the message result, 'D' rcpthosts, 'N' bad address, 'C' CR, LF or
 * NUL in it, 'T' too many */
struct run { char status; unsigned long count; };
static struct run *runs;
static size_t nruns, aruns;

/* addstatus - record the answer of the next recipient */
static void addstatus(char s)
{
  struct run *t;

  if (nruns && runs[nruns - 1].status == s) { ++runs[nruns - 1].count; return; }
  if (!(t = grow(runs, &aruns, nruns + 1, sizeof *runs))) resources();
  runs = t;
  runs[nruns].status = s;
  runs[nruns].count = 1;
  ++nruns;
}

static void answer(const char *s)
{
  sa ns = SA_ZERO;
  if (!netstring_cat(&ns, s, strlen(s))) resources();
  if (!bio_put(&out, ns.s, ns.len)) _exit(0);
  sa_free(&ns);
}

/* the message text on its way to qmail-queue, through a fixed buffer */
static char obuf[4096];
static size_t olen;
static unsigned long stored;
static int toobig;

static void store(char c)
{
  if (databytes && ++stored > databytes) toobig = 1;
  if (toobig) return;
  if (olen == sizeof obuf) { qmail_put(&qq, obuf, olen); olen = 0; }
  obuf[olen++] = c;
}

/* body - the message text (len bytes after the encoding byte) into qq */
static void body(size_t len, int flagcrlf)
{
  size_t k, i;
  int cr = 0;
  ssize_t r;

  olen = 0; stored = 0; toobig = 0;
  while (len) {
    r = bio_feed(&in);
    if (r < 0) resources();
    if (r == 0) badproto();
    k = (size_t)r < len ? (size_t)r : len;
    for (i = 0; i < k; ++i) {
      char c = bio_peek(&in)[i];
      if (flagcrlf) {               /* the old encoding: CR LF becomes LF */
        if (cr && c != '\n') store('\r');
        cr = c == '\r';
        if (cr) continue;
      }
      store(c);
    }
    bio_skip(&in, k);
    len -= k;
  }
  if (cr) store('\r');
  if (!toobig && olen) qmail_put(&qq, obuf, olen);
  if (toobig) qmail_fail(&qq);
}

static sa addr = SA_ZERO;   /* the sender, then each recipient */

/* sender - the sender netstring into the envelope; 0 when it is unusable
 * (then nothing of the package is queued) */
static int sender(void)
{
  size_t alen;
  int ok = 1;

  check(netstring_getlen(&in, 0, LENMAX, &alen));
  if (alen >= ADDRMAX) { ok = 0; check(netstring_skip(&in, 0, alen)); addr.len = 0; }
  else {
    check(netstring_getdata(&in, 0, alen, &addr));
    if (envaddr_bad(addr.s, addr.len)) ok = 0;
  }
  check(netstring_getcomma(&in, 0));
  qmail_fromb(&qq, addr.s ? addr.s : "", ok ? addr.len : 0);
  if (!ok) qmail_fail(&qq);
  return ok;
}

/* recipients - read the list of recipient netstrings, record an answer
 * for each and put the accepted ones into the envelope; how many were */
static unsigned long recipients(void)
{
  size_t alen, budget;
  unsigned long accepted = 0;
  int r;

  nruns = 0;
  check(netstring_getlen(&in, 0, LENMAX, &budget));
  while (budget) {
    check(netstring_getlen(&in, &budget, LENMAX, &alen));
    if (nruns >= RUNSMAX - 1) {     /* the last run: 'T' for all the rest */
      check(netstring_skip(&in, &budget, alen));
      addstatus('T');
    }
    else if (alen + relaylen >= ADDRMAX || !alen) {  /* alen <= LENMAX: no wrap */
      check(netstring_skip(&in, &budget, alen));
      addstatus('N');
    }
    else {
      check(netstring_getdata(&in, &budget, alen, &addr));
      if (envaddr_bad(addr.s, addr.len)) addstatus('C');
      else if (accepted >= maxrcpt) addstatus('T');
      else {
        if (relayclient) r = sa_cats(&addr, relayclient) ? 1 : -1;
        else r = rcpthosts_check(&rh, addr.s, addr.len);
        if (r == -1) resources();
        if (!r && !rh.flagrh)   /* no control/rcpthosts: closed, and the log says why */
          say(2, "qmail-qmtpd: relaying refused for ", peer.remoteip, ": control/rcpthosts is missing\n",
              NULL);
        if (!r) addstatus('D');
        else { qmail_tob(&qq, addr.s, addr.len); ++accepted; addstatus(0); }
      }
    }
    check(netstring_getcomma(&in, &budget));
  }
  check(netstring_getcomma(&in, 0));
  return accepted;
}

/* answers - one answer per recipient, in order; qqx for the accepted */
static void answers(const char *qqx)
{
  size_t i;
  unsigned long c;

  for (i = 0; i < nruns; ++i)
    for (c = 0; c < runs[i].count; ++c)
      switch (runs[i].status) {
        case 0: answer(qqx); break;
        case 'D': answer("Dsorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"); break;
        case 'T': answer("Zsorry, too many recipients (#4.5.3)"); break;
        case 'C': answer("Dsorry, an address may not contain CR, LF or NUL (#5.1.3)"); break;
        default: answer("Dsorry, I can't handle that recipient (#5.1.3)"); break;
      }
  if (!bio_flush(&out)) _exit(0);
}

/* package - one package of len bytes: queue it and answer it */
static void package(size_t len)
{
  sa rec = SA_ZERO;
  char first, result[100];
  const char *qqx;
  unsigned long qp, accepted;
  int senderok, r;

  if (!len) badproto();
  if (qmail_open(&qq) == -1) resources();
  qqopen = 1;
  qp = qmail_qp(&qq);
  r = bio_getc(&in, &first);
  if (r == -1) resources();
  if (r == 0 || (first != '\n' && first != '\r')) badproto();
  if (!received_fmt(&rec, "QMTP", peer.local, peer.remoteip, peer.remotehost, peer.remoteinfo,
                    0, time(0)))
    resources();
  qmail_put(&qq, rec.s, rec.len);
  sa_free(&rec);
  body(len - 1, first == '\r');
  check(netstring_getcomma(&in, 0));
  senderok = sender();
  accepted = recipients();

  if (!accepted) qmail_fail(&qq);
  qqx = qmail_close(&qq);
  qqopen = 0;
  if (!senderok) qqx = "Dunacceptable sender (#5.1.7)";
  if (toobig) qqx = "Dsorry, that message size exceeds my databytes limit (#5.3.4)";
  if (!*qqx) {
    size_t n = fmt_str(result, "Kok ");
    n += fmt_ulong(result + n, (unsigned long)time(0));
    n += fmt_str(result + n, " qp ");
    n += fmt_ulong(result + n, qp);
    result[n] = 0;
    qqx = result;
  }
  answers(qqx);
}

int main(void)
{
  size_t len;
  int r;

  sig_ignore(SIGPIPE);
  if (!netserve_noroot("qmail-qmtpd")) _exit(111);
  bio_init(&in, 0, inbuf, sizeof inbuf);
  bio_init(&out, 1, outbuf, sizeof outbuf);
  setup();
  for (;;) {
    r = netstring_getlen(&in, 0, LENMAX, &len);
    if (r == 0) _exit(0);      /* the client is done */
    check(r);
    package(len);
  }
}
