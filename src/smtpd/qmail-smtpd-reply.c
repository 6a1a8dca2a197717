/* The reply layer: every byte qmail-smtpd says to the client goes through
 * out()/outb(). Replies are written qmail's way, with the RFC 3463 code at
 * the end in parentheses ("553 text (#5.7.1)\r\n"); a reply is gathered
 * here until its last line and then sent:
 * - after EHLO (reply_esc on), as RFC 2034 asks: the code moves to the
 *   front of every line ("553-5.7.1 text", "553 5.7.1 text"); a reply
 *   without one gets the command's success code (2xx) or x.0.0. The code's
 *   class always matches the reply's first digit. 3xx replies stay as they
 *   are (RFC 2034 covers 2xx, 4xx and 5xx only).
 * - after HELO (or none), word for word as written.
 * A 4xx or 5xx reply is also logged on fd 2 (for multilog), with the
 * client's address, the command it answers and the reply as sent. */
#include <string.h>
#include <unistd.h>

#include "qmail-smtpd.h"
#include "fmt.h"
#include "str.h"

static char outbuf[1024];
static bio smtpd_out;
static sa reply = SA_ZERO;        /* the reply gathered so far */
static sa sent = SA_ZERO;         /* one reply as it goes out */
static sa cmd = SA_ZERO;          /* the command being answered, log-safe */
static int esc;
static const char *okcode = "2.0.0";
static const char *peerip = "unknown";

#define CMDLOG 200                /* bytes of a command kept for the log */

void reply_init(int fd, unsigned timeout, const char *ip)
{
  bio_init(&smtpd_out, fd, outbuf, sizeof outbuf);
  smtpd_out.timeout = timeout;
  peerip = ip;
  reply_cmd("(connect)", 9);
}

void reply_esc(int on) { esc = on; }
void reply_okcode(const char *code) { okcode = code; }

void reply_cmd(const char *s, size_t n)
{
  size_t i;
  cmd.len = 0;
  for (i = 0; i < n && i < CMDLOG; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (!sa_append(&cmd, c < 32 || c == 127 ? '?' : (char)c)) die_nomem();
  }
  if (n > CMDLOG && !sa_cats(&cmd, "...")) die_nomem();
}

int reply_flush(void) { return bio_flush(&smtpd_out); }

static int isdig(char c) { return c >= '0' && c <= '9'; }

/* tagat - length of an "(#d.ddd.ddd)" tag at s[0..n) ending exactly at n */
static size_t tagat(const char *s, size_t n, size_t *start)
{
  size_t i, k;
  int dots = 0, digits = 0;
  if (!n || s[n - 1] != ')') return 0;
  for (i = n - 1; i > 0; --i) {
    char c = s[i - 1];
    if (isdig(c)) { if (++digits > 3) return 0; continue; }
    if (c == '.') { if (!digits || ++dots > 2) return 0; digits = 0; continue; }
    break;
  }
  /* s[i..n-1) is the code; it must be d.d+.d+ with a one-digit class */
  if (dots != 2 || i < 2 || s[i - 1] != '#' || s[i - 2] != '(') return 0;
  k = byte_chr(s + i, n - i, '.');
  if (k != 1) return 0;
  *start = i - 2;
  return n - *start;
}

/* lineend - where the text of the line reply[i..e) ends, before CR LF */
static size_t lineend(size_t i, size_t e)
{
  return e > i && reply.s[e - 1] == '\r' ? e - 1 : e;
}

/* findcode - the code written in any line of the reply (the last wins) */
static int findcode(char code[12])
{
  size_t i, e, st, t;
  int found = 0;
  for (i = 0; i < reply.len; i = e + 1) {
    e = i + byte_chr(reply.s + i, reply.len - i, '\n');
    t = tagat(reply.s + i, lineend(i, e) - i, &st);
    if (t) {
      memcpy(code, reply.s + i + st + 2, t - 3);
      code[t - 3] = 0;
      found = 1;
    }
  }
  return found;
}

/* logreply - one line on fd 2 for a refusal */
static void logreply(void)
{
  sa l = SA_ZERO;
  char num[FMT_ULONG];
  size_t i;

  if (!sa_cats(&l, "qmail-smtpd: refused from ") || !sa_cats(&l, peerip) ||
      !sa_cats(&l, " (pid ") || !sa_catb(&l, num, fmt_ulong(num, (unsigned long)getpid())) ||
      !sa_cats(&l, "): ") || !sa_cat(&l, &cmd) || !sa_cats(&l, ": "))
    { sa_free(&l); return; }
  for (i = 0; i < sent.len; ++i) {
    char c = sent.s[i];
    if (c == '\r') continue;
    if (c == '\n') { if (i + 1 < sent.len && !sa_cats(&l, " / ")) break; continue; }
    if (!sa_append(&l, (unsigned char)c < 32 ? '?' : c)) break;
  }
  if (sa_append(&l, '\n')) bio_writeall(2, l.s, l.len, 10);
  sa_free(&l);
}

/* sendreply - the gathered reply, transformed, into the output buffer */
static void sendreply(void)
{
  char code[12];
  size_t i, e, ce, st, t;
  char c0 = reply.s[0];
  int withcode = esc && (c0 == '2' || c0 == '4' || c0 == '5') &&
                 reply.len >= 4 && isdig(reply.s[1]) && isdig(reply.s[2]);

  sent.len = 0;
  if (!withcode) { if (!sa_cat(&sent, &reply)) die_nomem(); }
  else {
    if (!findcode(code)) {
      if (c0 == '2') { strncpy(code, okcode, sizeof code - 1); code[sizeof code - 1] = 0; }
      else { code[0] = c0; memcpy(code + 1, ".0.0", 5); }
    }
    code[0] = c0;
    for (i = 0; i < reply.len; i = e + 1) {
      e = i + byte_chr(reply.s + i, reply.len - i, '\n');
      ce = lineend(i, e);
      t = tagat(reply.s + i, ce - i, &st);
      if (t) while (st > 0 && reply.s[i + st - 1] == ' ') --st;
      else st = ce - i;
      if (ce - i < 4) {                 /* a broken line: as it is */
        if (!sa_catb(&sent, reply.s + i, ce - i)) die_nomem();
      } else if (!sa_catb(&sent, reply.s + i, 4) || !sa_cats(&sent, code) ||
                 !sa_append(&sent, ' ') || !sa_catb(&sent, reply.s + i + 4, st > 4 ? st - 4 : 0))
        die_nomem();
      if (!sa_cats(&sent, "\r\n")) die_nomem();
    }
  }
  if (!bio_put(&smtpd_out, sent.s, sent.len)) die_write();
  if (c0 == '4' || c0 == '5') logreply();
}

/* outb - gather s[0..n); each complete line may complete the reply */
void outb(const char *s, size_t n)
{
  size_t i, k, b;
  for (i = 0; i < n; i = k) {
    k = i + byte_chr(s + i, n - i, '\n');
    if (k < n) ++k;
    if (!sa_catb(&reply, s + i, k - i)) die_nomem();
    if (reply.s[reply.len - 1] != '\n') return;
    /* a line is complete: is it the last of the reply? */
    for (b = reply.len - 1; b > 0 && reply.s[b - 1] != '\n'; --b) ;
    if (reply.len - b > 4 && reply.s[b + 3] == '-') continue;
    sendreply();
    reply.len = 0;
  }
}

void out(const char *s) { outb(s, strlen(s)); }
