/* The SMTP client: EHLO (HELO when EHLO gets 5xx), MAIL, one RCPT per
 * recipient, DATA with every line end made CRLF before dot-stuffing, QUIT.
 * The peer's replies are collected (bounded) into the reports. What the
 * EHLO reply offers is parsed in one place, ehlokeywords(): with
 * PIPELINING (RFC 2920) MAIL, the RCPTs and DATA go in one write; with SIZE
 * (RFC 1870) the size is declared and a message over the peer's limit is
 * bounced unsent (5.3.4); with SMTPUTF8 (RFC 6531) an envelope that needs
 * it says so, and one that needs it is bounced (5.6.7) by a peer without
 * it, never sent mangled. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmail-remote.h"
#include "base64.h"
#include "bio.h"
#include "fmt.h"
#include "scan.h"
#include "str.h"

#define MAXTEXT 5000       /* reply text kept for a report */
#define MAXLINE 1000       /* one reply line kept */
#define MAXREPLY 65536     /* bytes read for one reply before giving up */
#define MAXLINES 1000      /* lines in one reply */

static bio to, from, in;
static char tobuf[BIO_SIZE], frombuf[1024], inbuf[BIO_SIZE];
static sa text = SA_ZERO, line = SA_ZERO;
static char host[IPADDR_FMT];
static const char *tlsfailed;
static void tls_note(void);
static int flagcritical;

/* ext - what the peer's EHLO reply offers */
static struct ext {
  int eightbit, pipelining, smtputf8, size, starttls;
  int plain, login;             /* AUTH mechanisms offered */
  unsigned long maxsize;        /* SIZE n; 0: no limit given */
} ext;

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

/* tls_note - how the session went, for every report */
static void tls_note(void)
{
  if (tls_info()) { out("; TLS "); out(tls_info()); }
  else if (tlsfailed) { out("; TLS failed ("); out(tlsfailed); out("), sent without TLS"); }
}

/* quit - say QUIT without waiting, then the message report */
static noreturn void quit(const char *letter, const char *pre, const char *post)
{
  bio_putsflush(&to, "QUIT\r\n");        /* the peer may be gone: no matter */
  out(letter);
  out(pre);
  outhost();
  out(post);
  tls_note();
  out(".\n");
  outsmtptext();
  zerodie();
}

/* refuse - a permanent failure found before MAIL: QUIT, and the report */
static noreturn void refuse(const char *pre, const char *post)
{
  bio_putsflush(&to, "QUIT\r\n");
  out("D");
  out(pre);
  outhost();
  out(post);
  zerodie();
}

static const char *klass(unsigned code) { return code >= 500 && code < 600 ? "D" : "Z"; }

/* authmechs - note PLAIN and LOGIN among the words of an AUTH keyword */
static void authmechs(const char *s, size_t n)
{
  size_t i = 0, w;
  while (i < n) {
    w = byte_chr(s + i, n - i, ' ');
    if (w == 5 && !case_diffb(s + i, 5, "PLAIN")) ext.plain = 1;
    if (w == 5 && !case_diffb(s + i, 5, "LOGIN")) ext.login = 1;
    i += w + 1;
  }
}

/* kw - is the EHLO line l[0..n) (after "250-") keyword w, alone or
 * followed by a space and its parameters? */
static int kw(const char *l, size_t n, const char *w)
{
  size_t k = strlen(w);
  return n >= k && !case_diffb(l, k, w) && (n == k || l[k] == ' ');
}

/* ehlokeywords - fill ext from the EHLO reply in text, one keyword a line
 * (the first line is the greeting) */
static void ehlokeywords(void)
{
  size_t i, k, n;
  const char *l;

  memset(&ext, 0, sizeof ext);
  for (i = text.len ? byte_chr(text.s, text.len, '\n') + 1 : 0; i < text.len; i = k + 1) {
    k = i + byte_chr(text.s + i, text.len - i, '\n');
    if (k - i < 4) continue;
    l = text.s + i + 4;
    n = k - i - 4;
    if (kw(l, n, "8BITMIME")) ext.eightbit = 1;
    else if (kw(l, n, "STARTTLS")) ext.starttls = 1;
    else if (n >= 5 && !case_diffb(l, 4, "AUTH") && (l[4] == ' ' || l[4] == '=')) authmechs(l + 5, n - 5);
    else if (kw(l, n, "PIPELINING")) ext.pipelining = 1;
    else if (kw(l, n, "SMTPUTF8")) ext.smtputf8 = 1;
    else if (kw(l, n, "SIZE")) {
      ext.size = 1;
      if (n > 5 && !scan_ulongn(l + 5, n - 5, &ext.maxsize)) ext.maxsize = 0;
    }
  }
}

/* ehlo - EHLO, or HELO when the peer does not know EHLO */
static void ehlo(const struct smtpjob *j)
{
  unsigned code;

  puts_("EHLO ");
  put(j->helohost->s, j->helohost->len);
  puts_("\r\n");
  flush();
  code = smtpcode();
  if (code == 250) { ehlokeywords(); return; }
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

/* starttls - STARTTLS when the peer offers it (RFC 3207), then EHLO
 * again over TLS. Returns 0 when the handshake failed and the caller may
 * try again in cleartext; a required TLS that fails is a deferral. */
static int starttls(struct smtpjob *j)
{
  unsigned code;
  int rfd, wfd;
  if (!ext.starttls) {
    if (j->tls == 2) quit("Z", "Connected to ", " but it does not offer STARTTLS, which control/tlsdestinations requires");
    return 1;
  }
  puts_("STARTTLS\r\n");
  flush();
  code = smtpcode();
  if (code != 220) {
    if (j->tls == 2) quit("Z", "Connected to ", " but STARTTLS was refused, and control/tlsdestinations requires TLS");
    return 1;                            /* RFC 3207: go on without */
  }
  if (!tls_start(j->fd, j, &rfd, &wfd)) {
    text.len = 0;
    if (j->tls == 2) {
      out("ZTLS with ");
      outhost();
      out(" failed, and control/tlsdestinations requires verified TLS: ");
      out(tls_why());
      out(". (#4.7.5)\n");
      zerodie();
    }
    j->tlsfailed = tls_why();
    return 0;
  }
  bio_init(&to, wfd, tobuf, sizeof tobuf);
  bio_init(&from, rfd, frombuf, sizeof frombuf);
  to.timeout = from.timeout = j->timeout;
  memset(&ext, 0, sizeof ext);   /* RFC 3207: forget what came before TLS */
  ehlo(j);
  return 1;
}

/* putb64 - s[0..n) in base64 and CR LF; the buffer is wiped after */
static void putb64(const char *s, size_t n)
{
  char buf[2048];
  size_t k = base64_encode(buf, sizeof buf, s, n);
  if (!k && n) quit("Z", "Connected to ", " but the control/smtpauth line is too long");
  put(buf, k);
  puts_("\r\n");
  explicit_bzero(buf, sizeof buf);
}

/* authenticate - AUTH PLAIN (or LOGIN) with control/smtpauth's user and
 * password, only over TLS; any failure defers the mail, since a wrong
 * password is the administrator's to fix. The password is never reported. */
static void authenticate(void)
{
  char buf[1024];
  const char *u = auth_user(), *p = auth_pass();
  size_t ul = strlen(u), pl = strlen(p);
  unsigned code;

  if (!tls_info())
    quit("Z", "Connected to ", " but TLS is not on, and I send the control/smtpauth password only over TLS");
  if (!ext.plain && !ext.login) return;         /* nothing to log in with: try without */
  if (ext.plain) {
    if (ul + pl + 2 > sizeof buf) quit("Z", "Connected to ", " but the control/smtpauth line is too long");
    buf[0] = 0;
    memcpy(buf + 1, u, ul);
    buf[1 + ul] = 0;
    memcpy(buf + 2 + ul, p, pl);
    puts_("AUTH PLAIN ");
    putb64(buf, ul + pl + 2);
    explicit_bzero(buf, sizeof buf);
    flush();
    code = smtpcode();
  } else {
    puts_("AUTH LOGIN\r\n");
    flush();
    code = smtpcode();
    if (code == 334) { putb64(u, ul); flush(); code = smtpcode(); }
    if (code == 334) { putb64(p, pl); flush(); code = smtpcode(); }
  }
  if (code != 235) quit("Z", "Connected to ", " but my authentication was rejected (control/smtpauth)");
}

/* needutf8 - does the envelope hold a byte that is not ASCII? */
static int needutf8(const struct smtpjob *j)
{
  size_t i, k;
  for (k = 0; k < j->sender->len; ++k) if ((unsigned char)j->sender->s[k] >= 128) return 1;
  for (i = 0; i < j->nrcpt; ++i) {
    const struct rcpt *r = &j->rcpt[i];
    if (r->bad) continue;
    for (k = 0; k < r->addr.len; ++k) if ((unsigned char)r->addr.s[k] >= 128) return 1;
  }
  return 0;
}

/* mailfrom - the MAIL command with the parameters the peer takes */
static void mailfrom(const struct smtpjob *j, int utf8, unsigned long size)
{
  char num[FMT_ULONG];
  puts_("MAIL FROM:<");
  put(j->sender->s, j->sender->len);
  puts_(">");
  if (ext.eightbit) puts_(" BODY=8BITMIME");
  if (utf8) puts_(" SMTPUTF8");
  if (ext.size && size) { puts_(" SIZE="); put(num, fmt_ulong(num, size)); }
  puts_("\r\n");
}

/* rcptreply - the report for one RCPT from its reply; 1 when accepted */
static int rcptreply(unsigned code)
{
  if (code / 100 == 2) { out("r"); zero(); return 1; }
  out(code >= 500 && code < 600 ? "h" : "s");
  outhost();
  out(" does not like recipient.\n");
  outsmtptext();
  zero();
  return 0;
}

void smtp(struct smtpjob *j)
{
  unsigned code;
  size_t i;
  int flagbother = 0, one = 1, utf8;
  unsigned long size = 0;
  struct stat st;

  ipaddr_fmt(host, &j->partner);
  setsockopt(j->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bio_init(&to, j->fd, tobuf, sizeof tobuf);
  bio_init(&from, j->fd, frombuf, sizeof frombuf);
  bio_init(&in, 0, inbuf, sizeof inbuf);
  to.timeout = from.timeout = j->timeout;

  tlsfailed = j->tlsfailed;
  code = smtpcode();
  if (code != 220) quit(klass(code), "Connected to ", " but greeting failed");
  ehlo(j);
  if (j->tls && !starttls(j)) return;
  if (auth_user()) authenticate();

  /* the message as stored (LF line ends): at least what goes on the wire */
  if (fstat(0, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) size = (unsigned long)st.st_size;
  if (ext.size && ext.maxsize && size > ext.maxsize)
    refuse("Sorry, the message is larger than ", " accepts (SIZE). (#5.3.4)\n");
  utf8 = needutf8(j);
  if (utf8 && !ext.smtputf8)
    refuse("Sorry, the envelope has non-ASCII addresses and ", " does not offer SMTPUTF8. (#5.6.7)\n");

  mailfrom(j, utf8, size);
  if (ext.pipelining) {          /* RFC 2920: MAIL, RCPTs and DATA at once */
    for (i = 0; i < j->nrcpt; ++i) {
      const struct rcpt *r = &j->rcpt[i];
      if (r->bad) continue;
      puts_("RCPT TO:<");
      put(r->addr.s, r->addr.len);
      puts_(">\r\n");
    }
    puts_("DATA\r\n");
    flush();
    code = smtpcode();           /* the RCPT and DATA answers are not waited for */
    if (code / 100 != 2) quit(klass(code), "Connected to ", " but sender was rejected");
    for (i = 0; i < j->nrcpt; ++i) {
      const struct rcpt *r = &j->rcpt[i];
      if (r->bad) { out("h"); out(r->bad); zero(); continue; }
      if (rcptreply(smtpcode())) flagbother = 1;
    }
    code = smtpcode();
    if (!flagbother) {
      if (code / 100 == 3) { put(".\r\n", 3); flush(); smtpcode(); }   /* RFC 2920 3.1 */
      quit("D", "Giving up on ", "");
    }
    if (code / 100 != 3) quit(klass(code), "", " failed on DATA command");
  } else {
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
      if (rcptreply(smtpcode())) flagbother = 1;
    }
    if (!flagbother) quit("D", "Giving up on ", "");
    puts_("DATA\r\n");
    flush();
    code = smtpcode();
    if (code / 100 != 3) quit(klass(code), "", " failed on DATA command");
  }
  if (j->dkimsig && j->dkimsig->len) put(j->dkimsig->s, j->dkimsig->len);
  blast();
  code = smtpcode();
  flagcritical = 0;
  if (code / 100 != 2) quit(klass(code), "", " failed after I sent the message");
  quit("K", "", " accepted message");
}
