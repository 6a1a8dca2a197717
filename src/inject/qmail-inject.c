/* qmail-inject - preprocess a message and hand it to qmail-queue.
 * Reads the message on fd 0, holds at most HEADER_MAX bytes of header,
 * rewrites it per qmail-header(5) and streams the body. Exits 0, 100 for
 * bad usage or a bad message, 111 for temporary trouble. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qmail-inject.h"
#include "errtemp.h"
#include "say.h"
#include "sig.h"
#include "str.h"
#include "auto.h"
#include "control.h"
#include "qmail.h"
#include "quote.h"
#include "rfc822.h"

#define FATAL "qmail-inject: fatal: "

static struct inject inj;
static qmail qq;
static int qqopen;
static char outbuf[BIO_SIZE];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);
static char inbuf[BIO_SIZE];

/* abort_queue - make sure a started qmail-queue queues nothing */
static void abort_queue(void)
{
  if (!qqopen) return;
  qqopen = 0;
  qmail_fail(&qq);
  qmail_close(&qq);
}

noreturn void die_nomem(void) { abort_queue(); die(111, FATAL, "out of memory\n", NULL); }

noreturn void die_read(void)
{
  int nomem = errno == ENOMEM;
  const char *e = say_errno();
  if (nomem) die_nomem();
  abort_queue();
  die(111, FATAL, "unable to read input: ", e, "\n", NULL);
}

static noreturn void die_write(void)
{
  die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
}

static noreturn void die_usage(void)
{
  die(100, "qmail-inject: usage: qmail-inject [ -nNaAhH ] [ -fsender ] [ recip ... ]\n",
      NULL);
}

/* die_perm - a bad message: say why, and show the field (at most 200 bytes) */
noreturn void die_perm(const char *why, const char *what, size_t n)
{
  char buf[204];
  size_t i;

  abort_queue();
  if (!what) die(100, FATAL, why, "\n", NULL);
  if (n > 200) n = 200;
  for (i = 0; i < n; ++i) buf[i] = what[i] ? what[i] : '?';
  if (n && buf[n - 1] == '\n') --n;
  buf[n] = 0;
  die(100, FATAL, why, " in this field:\n", buf, "\n", NULL);
}

noreturn void die_noname(const char *fn, const sa *local)
{
  static sa l = SA_ZERO;
  if (!sa_copy(&l, local) || !sa_0(&l)) die_nomem();
  abort_queue();
  die(111, FATAL, "unable to qualify ", l.len > 1 ? l.s : "the address",
      ": control/me is empty or missing and control/", fn, " is not set\n", NULL);
}

static noreturn void die_control(const char *fn)
{
  die(111, FATAL, "unable to read control/", fn, ": ", say_errno(), "\n", NULL);
}

static void put(const char *s, size_t n)
{
  if (inj.flagqueue) qmail_put(&qq, s, n);
  else if (!bio_put(&out, s, n)) die_write();
}

static const char *env(const char *a, const char *b, const char *c, const char *d)
{
  const char *x = 0;
  if (a) x = getenv(a);
  if (!x && b) x = getenv(b);
  if (!x && c) x = getenv(c);
  if (!x && d) x = getenv(d);
  return x;
}

/* control - a name from control/fn, else control/me, else the literal
 * fn; the environment variable overrides all. 1 when one of those named
 * it, 0 for the literal: a mail qualified with it would be lost */
static int control(sa *x, const char *fn, const char *var)
{
  static sa path = SA_ZERO;
  const char *e = getenv(var);
  int r;

  if (e) { if (!sa_copys(x, e)) die_nomem(); return 1; }
  if (!sa_copys(&path, "control/") || !sa_cats(&path, fn) || !sa_0(&path)) die_nomem();
  r = control_rldef(x, path.s, 0);
  if (r == -1) die_control(fn);
  if (r == 1) return 1;
  r = control_rldef(x, "control/me", fn);
  if (r == -1) die_control("me");
  return r == 1;
}

/* setup - flags and names from the environment, then the control files */
static void setup(void)
{
  const char *x = getenv("QMAILINJECT");
  const char *mftfile = getenv("QMAILMFTFILE");

  for (; x && *x; ++x)
    switch (*x) {
      case 'c': inj.flagnamecomment = 1; break;
      case 's': inj.flagdeletesender = 1; break;
      case 'f': inj.flagdeletefrom = 1; break;
      case 'i': inj.flagdeletemessid = 1; break;
      case 'r': inj.flaghackrecip = 1; break;
      case 'm': inj.flaghackmess = 1; break;
    }
  inj.mailhost = env("QMAILHOST", "MAILHOST", 0, 0);
  inj.mailrhost = env("QMAILSHOST", 0, 0, 0);
  if (!inj.mailrhost) inj.mailrhost = inj.mailhost;
  inj.mailuser = env("QMAILUSER", "MAILUSER", "USER", "LOGNAME");
  if (!inj.mailuser) inj.mailuser = "anonymous";
  inj.mailruser = env("QMAILSUSER", 0, 0, 0);
  if (!inj.mailruser) inj.mailruser = inj.mailuser;
  inj.fullname = env("QMAILNAME", "MAILNAME", "NAME", 0);
  if (strpbrk(inj.mailuser, "\r\n") || strpbrk(inj.mailruser, "\r\n") ||
      (inj.mailhost && strpbrk(inj.mailhost, "\r\n")) ||
      (inj.mailrhost && strpbrk(inj.mailrhost, "\r\n")))
    die(100, FATAL, "line break in a user or host name from the environment\n", NULL);

  /* the list file is named relative to where we were started */
  if (mftfile) {
    int r = control_readfile(&inj.mft, mftfile);
    if (r == -1) die(111, FATAL, "unable to read ", mftfile, ": ", say_errno(), "\n", NULL);
    inj.flagmft = r == 1;
  }
  if (chdir(auto_home) == -1)
    die(111, FATAL, "unable to switch to ", auto_home, ": ", say_errno(), "\n", NULL);
  inj.havedefaultdomain = control(&inj.defaultdomain, "defaultdomain", "QMAILDEFAULTDOMAIN");
  inj.havedefaulthost = control(&inj.defaulthost, "defaulthost", "QMAILDEFAULTHOST");
  inj.haveplusdomain = control(&inj.plusdomain, "plusdomain", "QMAILPLUSDOMAIN");
  control(&inj.idhost, "idhost", "QMAILIDHOST");
}

/* address - an address given on the command line or with -f, qualified,
 * into o. It must parse as one RFC 5322 address (addr-spec, or [name]
 * <addr-spec>); quotes and comments are taken off, as for the addresses of
 * the header. "" and <> are the null address. */
static void address(sa *o, const char *s, const char *what)
{
  static sa local = SA_ZERO, domain = SA_ZERO;
  static rfc822_list l = RFC822_ZERO;
  size_t n = strlen(s), k, box = 0, nbox = 0;
  int flagat, r;

  if (strpbrk(s, "\r\n")) die(100, FATAL, "line break in an address\n", NULL);
  r = rfc822_addrlist(&l, s, n);
  if (r == -1) die_nomem();
  if (r == 0) die(100, FATAL, "unable to parse ", what, " ", s, ": ", l.err, "\n", NULL);
  for (k = 0; k < l.len; ++k)
    if (l.i[k].kind != RFC822_MAILBOX) nbox = 2;
    else { box = k; ++nbox; }
  if (!l.len && n) nbox = 2;   /* only comments, commas or blanks */
  if (nbox > 1) die(100, FATAL, "unable to parse ", what, " ", s, ": not one address\n", NULL);
  local.len = domain.len = 0;
  flagat = 0;
  if (nbox) {
    const rfc822_item *x = l.i + box;
    flagat = x->at;
    if (!sa_copyb(&local, l.text.s + x->local, x->locallen)) die_nomem();
    if (!sa_copyb(&domain, l.text.s + x->domain, x->domainlen)) die_nomem();
    if (flagat && byte_chr(domain.s, domain.len, '@') < domain.len)
      die(100, FATAL, "unable to parse ", what, " ", s, ": '@' in the domain\n", NULL);
  }
  if (!local.s && !sa_copyb(&local, "", 0)) die_nomem();
  if (!domain.s && !sa_copyb(&domain, "", 0)) die_nomem();
  qualify(&inj, &local, &flagat, &domain);
  if (!sa_copy(o, &local)) die_nomem();
  if (flagat && (!sa_append(o, '@') || !sa_cat(o, &domain))) die_nomem();
  if (o->len > ADDR_MAX) die(100, FATAL, "address too long (over 1000 bytes)\n", NULL);
}

/* body - copy the rest of fd 0, line ends CRLF made LF, ending in LF */
static void body(const sa *first)
{
  int cr = 0;     /* a CR waits for the next byte */
  char last = '\n';
  const char *p = first->s;
  size_t n = first->len;

  for (;;) {
    size_t i, start = 0;
    /* p is NULL while the header left no first body line */
    for (i = 0; i < n; ++i) {
      if (cr) {
        if (p[i] != '\n') put("\r", 1);
        cr = 0;
      }
      if (p[i] == '\r') {
        put(p + start, i - start);
        start = i + 1;
        cr = 1;
      }
    }
    if (n) {
      put(p + start, n - start);
      last = cr ? '\r' : p[n - 1];
    }
    if (p != first->s) bio_skip(&inj.in, n);
    {
      ssize_t r = bio_feed(&inj.in);
      if (r == -1) die_read();
      if (r == 0) break;
      p = bio_peek(&inj.in);
      n = (size_t)r;
    }
  }
  if (last != '\n') put("\n", 1);
}

/* finish - write the new header and the body, then queue or print */
static void finish(const sa *firstline)
{
  const char *x;
  size_t i;   /* lists are walked by offset: an empty one has s == NULL */

  if (inj.flagqueue) {
    if (qmail_open(&qq) == -1)
      die(111, FATAL, "unable to run qmail-queue: ", say_errno(), "\n", NULL);
    qqopen = 1;
  } else {
    static sa rp = SA_ZERO;
    if (!sa_copys(&rp, "Return-Path: <") || !quote_addr(&rp, inj.sender.s, inj.sender.len) ||
        !sa_cats(&rp, ">\n")) die_nomem();
    put(rp.s, rp.len);
  }
  put(inj.added.s, inj.added.len);
  put(inj.saved.s, inj.saved.len);
  put("\n", 1);
  body(firstline);
  if (!inj.flagqueue) {
    if (!bio_flush(&out)) die_write();
    _exit(0);
  }
  qmail_fromb(&qq, inj.sender.s, inj.sender.len);
  for (i = 0; i < inj.args.len; i += strlen(inj.args.s + i) + 1) qmail_to(&qq, inj.args.s + i);
  if (inj.flagrh) {
    const sa *l = inj.flagresent ? &inj.hrr : &inj.hr;
    for (i = 0; i < l->len; i += strlen(l->s + i) + 1) qmail_to(&qq, l->s + i);
  }
  qqopen = 0;
  x = qmail_close(&qq);
  if (*x) die(*x == 'D' ? 100 : 111, FATAL, x + 1, "\n", NULL);
  _exit(0);
}

enum { R_DEFAULT, R_ARGS, R_HEADER, R_BOTH };

/* options - read the flags into inj; returns the strategy for recipients
 * and sets *first to the index of the first argument after the flags */
static int options(int argc, char **argv, int *first)
{
  int strategy = R_DEFAULT, i;

  for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
    const char *o = argv[i] + 1;
    if (str_equal(argv[i], "--")) { ++i; break; }
    while (*o)
      switch (*o++) {
        case 'a': strategy = R_ARGS; break;
        case 'A': strategy = R_DEFAULT; break;
        case 'h': strategy = R_HEADER; break;
        case 'H': strategy = R_BOTH; break;
        case 'n': inj.flagqueue = 0; break;
        case 'N': inj.flagqueue = 1; break;
        case 'f':                  /* -fsender or -f sender: the rest of the word */
          if (!*o) { if (++i < argc) o = argv[i]; else die_usage(); }
          address(&inj.sender, o, "-f sender");   /* "" and "<>" are the null sender */
          inj.senderset = 1;
          o = "";
          break;
        default: die_usage();
      }
  }
  *first = i;
  if (strategy == R_DEFAULT) strategy = i < argc ? R_ARGS : R_HEADER;
  return strategy;
}

/* checklimits - refuse a message qmail-queue would refuse for its addresses */
static void checklimits(void)
{
  if (inj.sender.len > ADDR_MAX) die(100, FATAL, "envelope sender too long\n", NULL);
  if (inj.flagqueue && !inj.nargs &&
      !(inj.flagrh && (inj.flagresent ? inj.nhrr : inj.nhr)))
    die(100, FATAL, "no recipients\n", NULL);
  if (inj.flagrh) {
    const sa *l = inj.flagresent ? &inj.hrr : &inj.hr;
    size_t i, n;
    for (i = 0; i < l->len; i += n + 1)
      if ((n = strlen(l->s + i)) > ADDR_MAX)
        die(100, FATAL, "recipient address too long\n", NULL);
  }
}

int main(int argc, char **argv)
{
  static sa firstline = SA_ZERO, a = SA_ZERO;
  int strategy, i;

  sig_ignore(SIGPIPE);
  inj.start = time(0);
  inj.flagqueue = 1;
  bio_init(&inj.in, 0, inbuf, sizeof inbuf);
  setup();

  strategy = options(argc, argv, &i);
  if (strategy != R_HEADER)
    for (; i < argc; ++i) {
      if (!argv[i][0]) die(100, FATAL, "empty recipient address\n", NULL);
      address(&a, argv[i], "recipient");
      addlist(&inj.args, &inj.nargs, a.s, a.len);
    }
  inj.flagrh = strategy != R_ARGS;
  if (!sa_copys(&inj.saved, "")) die_nomem();

  header_read(&inj, &firstline);
  header_finish(&inj);
  checklimits();
  finish(&firstline);
}
