/* qreceipt - answer a Notice-Requested-Upon-Delivery-To request
 * (qreceipt(1)). When that field in the header lists youraddress, a
 * success notice goes to $SENDER through qmail-queue, with the empty
 * envelope sender so that it can never start a loop. Bounces ($SENDER
 * empty or #@[]) get no notice, nor does a $SENDER with a control
 * character, which would break the notice's header. Fields are read in
 * bounded memory; a field that cannot be parsed is ignored. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "sig.h"
#include "str.h"
#include "date822.h"
#include "hfield.h"
#include "qmail.h"
#include "quote.h"
#include "rfc822.h"

#define FATAL "qreceipt: fatal: "
#define FIELD_MAX 65536

static qmail qq;

static noreturn void die_nomem(void) { die(111, FATAL, "out of memory\n", NULL); }

/* printable - no control character (a line break would end a header field) */
static int printable(const char *s)
{
  for (; *s; ++s) if ((unsigned char)*s < 32 || *s == 127) return 0;
  return 1;
}

/* wanted - 1 when the field body lists addr */
static int wanted(const sa *f, size_t body, const char *addr)
{
  rfc822_list l = RFC822_ZERO;
  sa one = SA_ZERO;
  size_t k;
  int r, yes = 0;

  r = rfc822_addrlist(&l, f->s + body, f->len - body);
  if (r == -1) die_nomem();
  for (k = 0; r == 1 && k < l.len && !yes; ++k) {
    if (l.i[k].kind != RFC822_MAILBOX) continue;
    one.len = 0;
    if (!rfc822_addr(&one, &l, k)) die_nomem();
    if (one.len == strlen(addr) && !case_diffb(one.s, one.len, addr)) yes = 1;
  }
  sa_free(&one);
  rfc822_free(&l);
  return yes;
}

int main(int argc, char **argv)
{
  char inbuf[BIO_SIZE], num[FMT_ULONG];
  bio in;
  sa f = SA_ZERO, msgid = SA_ZERO, line = SA_ZERO;
  const char *sender, *addr, *x;
  size_t body;
  int r, cut, flag = 0;

  sig_ignore(SIGPIPE);
  if (argc != 2 || !argv[1][0]) die(100, "qreceipt: usage: qreceipt youraddress\n", NULL);
  addr = argv[1];
  sender = getenv("SENDER");
  if (!sender) die(100, FATAL, "SENDER not set\n", NULL);

  bio_init(&in, 0, inbuf, sizeof inbuf);
  while ((r = hfield_next(&in, &f, FIELD_MAX, &cut)) == 1) {
    if (cut) continue;
    if (hfield_is(&f, "Notice-Requested-Upon-Delivery-To", &body) && wanted(&f, body, addr))
      flag = 1;
    if (hfield_is(&f, "Message-ID", &body) && f.len - body < 1000) {
      size_t i;
      if (!sa_copyb(&msgid, f.s + body, f.len - body)) die_nomem();
      for (i = 0; i < msgid.len; ++i) if (msgid.s[i] == '\n' || msgid.s[i] == '\r') msgid.s[i] = ' ';
    }
  }
  if (r == -1) die(111, FATAL, "unable to read message: ", say_errno(), "\n", NULL);
  if (!flag || !*sender || !strcmp(sender, "#@[]")) return 0;
  if (!printable(sender) || !printable(addr)) return 0;

  if (!sa_copys(&line, "From: Delivery notice <") || !quote_addr(&line, addr, strlen(addr))
      || !sa_cats(&line, ">\nTo: <") || !quote_addr(&line, sender, strlen(sender))
      || !sa_cats(&line, ">\nDate: ") || !date822_fmt(&line, time(0))
      || !sa_cats(&line, "\nSubject: success notice\nAuto-Submitted: auto-replied\n\n"
                         "Your message was delivered to ")
      || !sa_cats(&line, addr) || !sa_cats(&line, ".\n")) die_nomem();
  if (msgid.len && (!sa_cats(&line, "Its Message-ID was") || !sa_cat(&line, &msgid)
                    || !sa_cats(&line, "\n"))) die_nomem();

  if (qmail_open(&qq) == -1) die(111, FATAL, "unable to fork: ", say_errno(), "\n", NULL);
  num[fmt_ulong(num, qmail_qp(&qq))] = 0;
  qmail_put(&qq, line.s, line.len);
  qmail_from(&qq, "");
  qmail_to(&qq, sender);
  x = qmail_close(&qq);
  if (*x) die(*x == 'D' ? 100 : 111, FATAL, x + 1, "\n", NULL);
  say(1, "qreceipt: qp ", num, "\n", NULL);
  return 0;
}
