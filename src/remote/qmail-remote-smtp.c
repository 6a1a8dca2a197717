/* The SMTP client: EHLO (HELO when EHLO gets 5xx), MAIL, one RCPT per
 * recipient, DATA with every line end made CRLF before dot-stuffing, QUIT.
 * The peer's replies are collected (bounded) into the reports. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmail-remote.h"
#include "bio.h"
#include "str.h"

#define MAXTEXT 5000       /* reply text kept for a report */
#define MAXLINE 1000       /* one reply line kept */
#define MAXREPLY 65536     /* bytes read for one reply before giving up */
#define MAXLINES 1000      /* lines in one reply */

static bio to, from, in;
static char tobuf[BIO_SIZE], frombuf[1024], inbuf[BIO_SIZE];
static sa text = SA_ZERO, line = SA_ZERO;
static char host[IPADDR_FMT];
static int flagcritical;
static int flag8bit;

static void outhost(void) { out(host); }

static noreturn void dropped(void)
{
  out("ZConnected to ");
  outhost();
  out(" but connection died. ");
  if (flagcritical) out("Possible duplicate! ");
  out("(#4.4.2)\n");
  zerodie();
}

static void put(const char *s, size_t n) { if (!bio_put(&to, s, n)) dropped(); }
static void puts_(const char *s) { put(s, strlen(s)); }
static void flush(void) { if (!bio_flush(&to)) dropped(); }

static void keep(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n && text.len < MAXTEXT; ++i) {
    char c = s[i];
    if (c == '\r') continue;
    if (!c) c = '?';
    if (!sa_append(&text, c)) temp_nomem();
  }
}

/* smtpcode - read one reply, maybe multi-line; its code, 0 if malformed */
static unsigned smtpcode(void)
{
  unsigned code = 0;
  size_t lines, total = 0;
  int r, first = 1;
  char c;

  text.len = 0;
  for (lines = 0; lines < MAXLINES; ++lines) {
    line.len = 0;
    r = bio_getln(&from, &line, '\n', MAXLINE);
    if (r == -2) {                       /* keep the start, skip the rest */
      do {
        r = bio_getc(&from, &c);
        if (++total > MAXREPLY) dropped();
      } while (r == 1 && c != '\n');
      if (r != 1) dropped();
      if (!sa_append(&line, '\n')) temp_nomem();
    } else if (r != 1) dropped();
    total += line.len;
    if (total > MAXREPLY) dropped();
    keep(line.s, line.len);
    if (line.s[line.len - 1] != '\n') keep("\n", 1);
    if (first) {
      first = 0;
      if (line.len >= 3 && line.s[0] >= '0' && line.s[0] <= '9' && line.s[1] >= '0' && line.s[1] <= '9' && line.s[2] >= '0' && line.s[2] <= '9')
        code = (unsigned)(line.s[0] - '0') * 100 + (unsigned)(line.s[1] - '0') * 10 + (unsigned)(line.s[2] - '0');
    }
    if (line.len < 4 || line.s[3] != '-') return code;
  }
  dropped();
}

static void outsmtptext(void)
{
  if (!text.len) return;
  out("Remote host said: ");
  outb(text.s, text.len);
  text.len = 0;
}

/* quit - say QUIT without waiting, then the message report */
static noreturn void quit(const char *letter, const char *pre, const char *post)
{
  bio_putsflush(&to, "QUIT\r\n");        /* the peer may be gone: no matter */
  out(letter);
  out(pre);
  outhost();
  out(post);
  out(".\n");
  outsmtptext();
  zerodie();
}

static const char *klass(unsigned code) { return code >= 500 && code < 600 ? "D" : "Z"; }

/* ehlo - EHLO, or HELO when the peer does not know EHLO; notes 8BITMIME */
static void ehlo(const struct smtpjob *j)
{
  unsigned code;
  size_t i, k;

  puts_("EHLO ");
  put(j->helohost->s, j->helohost->len);
  puts_("\r\n");
  flush();
  code = smtpcode();
  if (code == 250) {
    for (i = 0; i < text.len; i = k + 1) {     /* one keyword a line */
      k = i + byte_chr(text.s + i, text.len - i, '\n');
      if (k - i >= 12 && !case_diffb(text.s + i + 4, 8, "8BITMIME") && (k - i == 12 || text.s[i + 12] == ' '))
        flag8bit = 1;
    }
    return;
  }
  if (code < 500 || code >= 600) quit("Z", "Connected to ", " but my name was rejected");
  puts_("HELO ");
  put(j->helohost->s, j->helohost->len);
  puts_("\r\n");
  flush();
  code = smtpcode();
  if (code != 250) quit(klass(code), "Connected to ", " but my name was rejected");
}

/* blast - the message, each line end (LF, CRLF or a bare CR) made CRLF
 * first, then a dot doubled at the start of a line, so the data can hold
 * no line that is just "." before our own terminator. A missing final line
 * end is added. */
static void blast(void)
{
  char buf[BIO_SIZE];
  size_t o = 0;
  int sol = 1, cr = 0;
  ssize_t r;

#define EMIT(c) do { if (o == sizeof buf) { put(buf, o); o = 0; } buf[o++] = (c); } while (0)
  for (;;) {
    r = bio_feed(&in);
    if (r < 0) temp_read();
    if (r == 0) break;
    for (size_t i = 0; i < (size_t)r; ++i) {
      char c = in.buf[in.pos + i];
      if (cr) {
        cr = 0;
        EMIT('\r'); EMIT('\n');
        sol = 1;
        if (c == '\n') continue;
      }
      if (c == '\r') { cr = 1; continue; }
      if (c == '\n') { EMIT('\r'); EMIT('\n'); sol = 1; continue; }
      if (sol && c == '.') EMIT('.');
      EMIT(c);
      sol = 0;
    }
    bio_skip(&in, (size_t)r);
  }
  if (cr || !sol) { EMIT('\r'); EMIT('\n'); }
#undef EMIT
  put(buf, o);
  flagcritical = 1;
  put(".\r\n", 3);
  flush();
}

noreturn void smtp(const struct smtpjob *j)
{
  unsigned code;
  size_t i;
  int flagbother = 0, one = 1;

  ipaddr_fmt(host, &j->partner);
  setsockopt(j->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bio_init(&to, j->fd, tobuf, sizeof tobuf);
  bio_init(&from, j->fd, frombuf, sizeof frombuf);
  bio_init(&in, 0, inbuf, sizeof inbuf);
  to.timeout = from.timeout = j->timeout;

  code = smtpcode();
  if (code != 220) quit(klass(code), "Connected to ", " but greeting failed");
  ehlo(j);

  puts_("MAIL FROM:<");
  put(j->sender->s, j->sender->len);
  puts_(flag8bit ? "> BODY=8BITMIME\r\n" : ">\r\n");
  flush();
  code = smtpcode();
  if (code / 100 != 2) quit(klass(code), "Connected to ", " but sender was rejected");

  for (i = 0; i < j->nrcpt; ++i) {
    const struct rcpt *r = &j->rcpt[i];
    if (r->bad) { out("h"); out(r->bad); zero(); continue; }
    puts_("RCPT TO:<");
    put(r->addr.s, r->addr.len);
    puts_(">\r\n");
    flush();
    code = smtpcode();
    if (code / 100 == 2) { out("r"); zero(); flagbother = 1; continue; }
    out(code >= 500 && code < 600 ? "h" : "s");
    outhost();
    out(" does not like recipient.\n");
    outsmtptext();
    zero();
  }
  if (!flagbother) quit("D", "Giving up on ", "");

  puts_("DATA\r\n");
  flush();
  code = smtpcode();
  if (code / 100 != 3) quit(klass(code), "", " failed on DATA command");
  if (j->dkimsig && j->dkimsig->len) put(j->dkimsig->s, j->dkimsig->len);
  blast();
  code = smtpcode();
  flagcritical = 0;
  if (code / 100 != 2) quit(klass(code), "", " failed after I sent the message");
  quit("K", "", " accepted message");
}
