/* qmail-qmqpd - receive one message via QMQP (cr.yp.to/proto/qmqp.txt)
 * and hand it to qmail-queue. The package is one netstring holding the
 * message netstring, the sender netstring and one netstring per
 * recipient; the answer is one K/Z/D netstring. Every nested length is
 * checked against what is left of the package; a malformed netstring ends
 * the connection with exit 100 and nothing queued. QMQP relays to any
 * address: only trusted clients may reach this program. */
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
#include "netserve.h"
#include "netstring.h"
#include "qmail.h"
#include "received.h"
#include "scan.h"
#include "sig.h"

#define ADDRMAX 1000
#define LENMAX (SIZE_MAX / 2)

static char inbuf[BIO_SIZE], outbuf[256];
static bio in, out;
static qmail qq;
static int qqopen;

static noreturn void bye(int code)
{
  if (qqopen) { qmail_fail(&qq); qmail_close(&qq); }
  _exit(code);
}

static void check(int r)
{
  if (r == 1) return;
  bye(r == -1 ? 111 : 100);
}

static unsigned long databytes;

/* received - the Received field from the tcpserver environment, into qq */
static void received(void)
{
  struct received_peer p;
  sa rec = SA_ZERO;

  received_peer(&p);
  if (!received_fmt(&rec, "QMQP", p.local, p.remoteip, p.remotehost, p.remoteinfo, 0, time(0)))
    bye(111);
  qmail_put(&qq, rec.s, rec.len);
  sa_free(&rec);
}

/* message - len bytes of message text into qq, unless over databytes */
static int message(size_t *budget, size_t len)
{
  ssize_t r;
  size_t k;
  int toobig = databytes && len > databytes;

  if (len > *budget) bye(100);
  if (toobig) qmail_fail(&qq);
  while (len) {
    r = bio_feed(&in);
    if (r < 0) bye(111);
    if (r == 0) bye(100);
    k = (size_t)r < len ? (size_t)r : len;
    if (!toobig) qmail_put(&qq, bio_peek(&in), k);
    bio_skip(&in, k);
    len -= k;
    *budget -= k;
  }
  return toobig;
}

/* address - the next address netstring into a; 0 when it is unusable */
static int address(size_t *budget, sa *a, int flagempty)
{
  size_t len;
  check(netstring_getlen(&in, budget, LENMAX, &len));
  if (len >= ADDRMAX || (!len && !flagempty)) {
    check(netstring_skip(&in, budget, len));
    check(netstring_getcomma(&in, budget));
    return 0;
  }
  check(netstring_getdata(&in, budget, len, a));
  check(netstring_getcomma(&in, budget));
  return !envaddr_bad(a->s, a->len);
}

int main(void)
{
  sa a = SA_ZERO, reply = SA_ZERO;
  char result[100];
  const char *qqx;
  size_t budget, len, n;
  unsigned long qp;
  int ok = 1, toobig, r;

  sig_ignore(SIGPIPE);
  if (!netserve_noroot("qmail-qmqpd")) _exit(111);
  bio_init(&in, 0, inbuf, sizeof inbuf);
  bio_init(&out, 1, outbuf, sizeof outbuf);
  if (chdir(auto_home) == -1) bye(111);
  if (netserve_limits(&databytes, &in.timeout) == -1) bye(111);
  out.timeout = in.timeout;

  r = netstring_getlen(&in, 0, LENMAX, &budget);
  if (r == 0) bye(0);
  check(r);
  check(netstring_getlen(&in, &budget, LENMAX, &len));
  if (qmail_open(&qq) == -1) bye(111);
  qqopen = 1;
  qp = qmail_qp(&qq);
  received();
  toobig = message(&budget, len);
  check(netstring_getcomma(&in, &budget));

  if (!address(&budget, &a, 1)) { ok = 0; qmail_fail(&qq); }
  qmail_fromb(&qq, a.s ? a.s : "", ok ? a.len : 0);
  n = 0;
  while (budget) {
    if (!address(&budget, &a, 0)) { ok = 0; qmail_fail(&qq); }
    else { qmail_tob(&qq, a.s, a.len); ++n; }
  }
  check(netstring_getcomma(&in, 0));
  if (!n) qmail_fail(&qq);

  qqx = qmail_close(&qq);
  qqopen = 0;
  if (!*qqx) {
    n = fmt_str(result, "Kok ");
    n += fmt_ulong(result + n, (unsigned long)time(0));
    n += fmt_str(result + n, " qp ");
    n += fmt_ulong(result + n, qp);
    result[n] = 0;
    qqx = result;
  }
  if (!ok) qqx = "Dsorry, I can't accept addresses like that (#5.1.3)";
  else if (toobig) qqx = "Dsorry, that message size exceeds my databytes limit (#5.3.4)";
  else if (!n) qqx = "Dsorry, a message needs at least one recipient (#5.1.3)";
  if (!netstring_cat(&reply, qqx, strlen(qqx))) bye(111);
  bio_putflush(&out, reply.s, reply.len);
  _exit(0);
}
