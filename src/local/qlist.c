/* qlist - a small mailing-list manager run from .qmail (qlist(1)).
 * `| qlist [-a] LIST HOST` in ~/.qmail-LIST-request. The list's address
 * is $LOCAL up to LIST, at HOST; its members are the &address lines of
 * ~/.qmail-LIST, so qmail-local delivers the list and the -owner rule
 * sends its bounces to LIST-owner. A request (subscribe, unsubscribe,
 * help, in the Subject or the first body line) is answered with a
 * confirmation whose Reply-To is LIST-request-confirm-COOKIE-box=dom@HOST;
 * a message to that address carries the change out. Input is the message
 * (header fields and lines read in bounded memory) and the environment of
 * qmail-command(8); nothing of it reaches a shell or a .qmail line unless
 * it is a plain address. Exit codes: 0 done, 100 refused, 111 try later. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qlist.h"
#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "sig.h"
#include "str.h"
#include "date822.h"
#include "dotqmail.h"
#include "hfield.h"
#include "qmail.h"

#define FATAL "qlist: fatal: "
#define FIELDMAX 4096
#define ADDRMAX 400

noreturn void ql_nomem(void) { die(111, FATAL, "out of memory (#4.3.0)\n", NULL); }
noreturn void ql_temp(const char *what, const char *fn)
{
  die(111, FATAL, "unable to ", what, " ", fn, ": ", say_errno(), " (#4.3.0)\n", NULL);
}
/* term - NUL after the contents, not counted in len */
static void term(sa *x) { if (!sa_0(x)) ql_nomem(); --x->len; }

static noreturn void usage(void) { die(100, "qlist: usage: qlist [-a] LIST HOST\n", NULL); }

static const char *host, *sender;
static sa name = SA_ZERO;      /* LIST in file-name form */
static sa listlocal = SA_ZERO; /* the list's local part, as $LOCAL spells it */
static sa listaddr = SA_ZERO;  /* LIST@HOST */
static int anyaddr;            /* -a: a request may name another address */

int qlist_addr_ok(const char *a, size_t n)
{
  size_t i, at = n;

  if (!n || n > ADDRMAX || a[0] == '.' || a[0] == '/' || a[0] == '&' || a[0] == '#' || a[0] == '+')
    return 0;
  for (i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)a[i];
    if (c <= 32 || c >= 127 || strchr("|\"\\()<>,;:[]", c)) return 0;
    if (c == '@') { if (at != n) return 0; at = i; }
  }
  return at > 0 && at + 1 < n && a[at + 1] != '.' && a[n - 1] != '.';
}

/* findlist - split $LOCAL at "LIST-request" (bounded by - or the ends):
 * listlocal gets what comes up to LIST, and the rest is returned */
static const char *findlist(const char *local, const char *list)
{
  size_t ll = strlen(local), n = strlen(list), i;
  static const char req[] = "-request";

  for (i = 0; i + n + sizeof req - 1 <= ll; ++i) {
    if (i && local[i - 1] != '-') continue;
    if (case_diffb(local + i, n, list) || case_diffb(local + i + n, sizeof req - 1, req)) continue;
    if (local[i + n + sizeof req - 1] && local[i + n + sizeof req - 1] != '-') continue;
    if (!sa_copyb(&listlocal, local, i + n)) ql_nomem();
    term(&listlocal);
    return local + i + n + sizeof req - 1;
  }
  die(100, "qlist: $LOCAL is not LIST-request for this list (#5.1.1)\n", NULL);
}

/* name_ok - letters, digits, - and . (and _ when under is set), not
 * first . or -: LIST and HOST go into file names, addresses and headers */
static int name_ok(const char *h, int under)
{
  if (!*h || *h == '.' || *h == '-') return 0;
  for (; *h; ++h)
    if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9')
          || *h == '-' || *h == '.' || (under && *h == '_')))
      return 0;
  return 1;
}

static int replyable(const char *s) { return *s && strcmp(s, "#@[]") && qlist_addr_ok(s, strlen(s)); }

/* addr_of - "LISTLOCAL<suffix>@HOST" */
static void addr_of(sa *out, const char *suffix)
{
  if (!sa_copy(out, &listlocal) || !sa_cats(out, suffix) || !sa_append(out, '@')
      || !sa_cats(out, host) || !sa_0(out)) ql_nomem();
}

/* reply - queue an automatic answer to `to` (RFC 3834: empty envelope
 * sender, Auto-Submitted), From LIST-request, with Reply-To if given */
static void reply(const char *to, const char *subject, const char *replyto, const sa *body)
{
  qmail qq;
  sa m = SA_ZERO, from = SA_ZERO;
  char num[FMT_ULONG];
  const char *x;
  time_t now = time(0);

  addr_of(&from, "-request");
  if (!sa_cats(&m, "From: <") || !sa_cats(&m, from.s) || !sa_cats(&m, ">\nTo: <") || !sa_cats(&m, to)
      || !sa_cats(&m, ">\n")) ql_nomem();
  if (replyto && (!sa_cats(&m, "Reply-To: <") || !sa_cats(&m, replyto) || !sa_cats(&m, ">\n"))) ql_nomem();
  if (!sa_cats(&m, "Subject: ") || !sa_cats(&m, subject) || !sa_cats(&m, " ") || !sa_cats(&m, listaddr.s)
      || !sa_cats(&m, "\nDate: ") || !date822_fmt(&m, now) || !sa_cats(&m, "\nMessage-ID: <")
      || !sa_catulong(&m, (unsigned long)now) || !sa_append(&m, '.') || !sa_catulong(&m, (unsigned long)getpid())
      || !sa_cats(&m, ".qlist@") || !sa_cats(&m, host) || !sa_cats(&m, ">\nAuto-Submitted: auto-replied\n"
      "List-Id: <") || !sa_cats(&m, listaddr.s) || !sa_cats(&m, ">\nMIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=us-ascii\n\n") || !sa_cat(&m, body)) ql_nomem();

  if (qmail_open(&qq) == -1) ql_temp("start", "qmail-queue");
  num[fmt_ulong(num, qmail_qp(&qq))] = 0;
  qmail_put(&qq, m.s, m.len);
  qmail_from(&qq, "");
  qmail_to(&qq, to);
  x = qmail_close(&qq);
  if (*x) die(*x == 'D' ? 100 : 111, FATAL, x + 1, "\n", NULL);
  say(1, "qlist: ", subject, " ", listaddr.s, " qp ", num, "\n", NULL);
  sa_free(&m); sa_free(&from);
}

static void help(void)
{
  sa b = SA_ZERO, req = SA_ZERO;

  if (!replyable(sender)) return;
  addr_of(&req, "-request");
  if (!sa_cats(&b, "This is qlist, the list manager of ") || !sa_cats(&b, listaddr.s)
      || !sa_cats(&b, ".\n\nTo join the list, send a message to ") || !sa_cats(&b, req.s)
      || !sa_cats(&b, "\nwith the subject \"subscribe\". To leave it, use \"unsubscribe\".\n")
      || (anyaddr && !sa_cats(&b, "To join or leave with another address, put it after the word:\n"
                                  "\"subscribe you@example.com\".\n"))
      || !sa_cats(&b, "Each request is answered with a confirmation: reply to it to finish.\n"))
    ql_nomem();
  reply(sender, "help for", 0, &b);
  sa_free(&b); sa_free(&req);
}

/* command - the first words of the Subject, else of the first body line
 * that is not blank: the command into cmd and the word after it into arg */
static void command(sa *cmd, sa *arg)
{
  char inbuf[BIO_SIZE];
  bio in;
  sa f = SA_ZERO, text = SA_ZERO;
  size_t body, i, j;
  int r, cut, lines;

  bio_init(&in, 0, inbuf, sizeof inbuf);
  while ((r = hfield_next(&in, &f, FIELDMAX, &cut)) == 1) {
    if (hfield_is(&f, "Subject", &body) && !text.len && !sa_copyb(&text, f.s + body, f.len - body)) ql_nomem();
    /* never answer another robot (RFC 3834) */
    if (hfield_is(&f, "Auto-Submitted", &body)) {
      for (i = body; i < f.len && (f.s[i] == ' ' || f.s[i] == '\t'); ++i) ;
      if (f.len - i < 2 || case_diffb(f.s + i, 2, "no")) { say(1, "qlist: ignoring an automatic message\n", NULL); _exit(0); }
    }
  }
  if (r == -1) ql_temp("read", "the message");
  for (lines = 0; lines < 50; ++lines) {
    for (i = 0; i < text.len && (text.s[i] == ' ' || text.s[i] == '\t' || text.s[i] == '\n' || text.s[i] == '\r'); ++i) ;
    if (i < text.len) break;
    text.len = 0;
    r = bio_getln(&in, &text, '\n', FIELDMAX);
    if (r == -1) ql_temp("read", "the message");
    if (r == -2) { text.len = 0; break; }
    if (r == 0 && !text.len) break;
  }
  cmd->len = arg->len = 0;
  for (i = 0; i < text.len && (text.s[i] == ' ' || text.s[i] == '\t' || text.s[i] == '\n' || text.s[i] == '\r'); ++i) ;
  for (j = i; j < text.len && text.s[j] != ' ' && text.s[j] != '\t' && text.s[j] != '\n' && text.s[j] != '\r'; ++j) ;
  if (!sa_copyb(cmd, text.s + i, j - i)) ql_nomem();
  case_lowerb(cmd->s, cmd->len);
  for (i = j; i < text.len && (text.s[i] == ' ' || text.s[i] == '\t'); ++i) ;
  for (j = i; j < text.len && text.s[j] != ' ' && text.s[j] != '\t' && text.s[j] != '\n' && text.s[j] != '\r'; ++j) ;
  if (j - i >= 2 && text.s[i] == '<' && text.s[j - 1] == '>') { ++i; --j; }
  if (!sa_copyb(arg, text.s + i, j - i)) ql_nomem();
  sa_free(&f); sa_free(&text);
}

/* request - a message to LIST-request: ask the address to confirm */
static void request(void)
{
  sa cmd = SA_ZERO, arg = SA_ZERO, target = SA_ZERO, cookie = SA_ZERO, conf = SA_ZERO, b = SA_ZERO;
  char action;
  size_t at;

  if (!*sender || !strcmp(sender, "#@[]")) { say(1, "qlist: ignoring a bounce\n", NULL); return; }
  command(&cmd, &arg);
  if (cmd.len == 9 && !memcmp(cmd.s, "subscribe", 9)) action = 's';
  else if (cmd.len == 11 && !memcmp(cmd.s, "unsubscribe", 11)) action = 'u';
  else { help(); return; }

  if (anyaddr && arg.len) { if (!sa_copy(&target, &arg)) ql_nomem(); }
  else if (!sa_copys(&target, sender)) ql_nomem();
  if (!qlist_addr_ok(target.s, target.len))
    die(100, "qlist: refused: that is not a plain mail address (#5.1.3)\n", NULL);
  if (!sa_0(&target)) ql_nomem();

  cookie_make(&cookie, name.s, action, time(0), listaddr.s, target.s);
  at = byte_rchr(target.s, target.len - 1, '@');
  if (!sa_copy(&conf, &listlocal) || !sa_cats(&conf, "-request-confirm-") || !sa_cat(&conf, &cookie)
      || !sa_append(&conf, '-') || !sa_catb(&conf, target.s, at) || !sa_append(&conf, '=')
      || !sa_cats(&conf, target.s + at + 1) || !sa_append(&conf, '@') || !sa_cats(&conf, host)
      || !sa_0(&conf)) ql_nomem();
  members_default(name.s);

  if (!sa_cats(&b, "Someone, probably you, asked to ") || !sa_cats(&b, action == 's' ? "subscribe " : "unsubscribe ")
      || !sa_cats(&b, target.s) || !sa_cats(&b, action == 's' ? " to " : " from ") || !sa_cats(&b, listaddr.s)
      || !sa_cats(&b, ".\n\nTo confirm, reply to this message; the reply goes to\n") || !sa_cats(&b, conf.s)
      || !sa_cats(&b, "\nThe confirmation works for four days. If you did not ask, ignore this\n"
                      "message and nothing will change.\n")) ql_nomem();
  reply(target.s, action == 's' ? "confirm subscribe to" : "confirm unsubscribe from", conf.s, &b);
  sa_free(&cmd); sa_free(&arg); sa_free(&target); sa_free(&cookie); sa_free(&conf); sa_free(&b);
}

/* confirm - a message to LIST-request-confirm-COOKIE-box=dom: do it */
static void confirm(const char *c)
{
  sa target = SA_ZERO, b = SA_ZERO;
  size_t n = strlen(c), k = byte_chr(c, n, '-'), eq;
  char action = 0;
  int changed;

  if (k < n) {
    if (!sa_copys(&target, c + k + 1)) ql_nomem();
    eq = byte_rchr(target.s, target.len, '=');
    if (eq < target.len) target.s[eq] = '@';
  }
  if (!target.len || !qlist_addr_ok(target.s, target.len) || !sa_0(&target)
      || !cookie_check(c, k, name.s, &action, time(0), listaddr.s, target.s))
    die(100, "qlist: this confirmation is not valid or has expired; send a new request (#5.7.1)\n", NULL);

  changed = members_change(name.s, listaddr.s, action, target.s);
  if (!sa_cats(&b, target.s)) ql_nomem();
  if (action == 's' && !sa_cats(&b, changed ? " is now subscribed to " : " was already subscribed to ")) ql_nomem();
  if (action == 'u' && !sa_cats(&b, changed ? " is no longer subscribed to " : " was not subscribed to ")) ql_nomem();
  if (!sa_cats(&b, listaddr.s) || !sa_cats(&b, ".\n")) ql_nomem();
  reply(target.s, action == 's' ? "subscribed to" : "unsubscribed from", 0, &b);
  sa_free(&target); sa_free(&b);
}

int main(int argc, char **argv)
{
  const char *local, *tail, *list;
  int i = 1;

  sig_ignore(SIGPIPE);
  if (argc > 1 && !strcmp(argv[1], "-a")) { anyaddr = 1; ++i; }
  if (argc - i != 2) usage();
  list = argv[i]; host = argv[i + 1];
  if (!name_ok(list, 1) || !name_ok(host, 0)) usage();
  local = getenv("LOCAL");
  sender = getenv("SENDER");
  if (!local || !sender) die(100, "qlist: LOCAL and SENDER must be set, as qmail-local sets them\n", NULL);
  if (!dq_safeext(&name, list) || !sa_0(&name)) ql_nomem();

  tail = findlist(local, list);
  if (!sa_copy(&listaddr, &listlocal) || !sa_append(&listaddr, '@') || !sa_cats(&listaddr, host)) ql_nomem();
  term(&listaddr);
  if (!*tail) request();
  else if (str_starts(tail, "-confirm-")) confirm(tail + 9);
  else help();
  return 0;
}
