/* qmail-smtpd's parts linked from its part library: the MAIL and RCPT
 * argument parser (qmail-smtpd-addr.c) and the DATA and BDAT streams
 * (qmail-smtpd-data.c). This file stands in for qmail-smtpd.c: the
 * session input is a file read through a buffer of any size, and the
 * ends of the session (a stray newline, the end of input) jump back here. */
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "qmail-smtpd.h"

/* ---- what qmail-smtpd.c gives its parts ---- */

bio smtpd_in;
static jmp_buf ended;
enum { RUNNING, STRAY = 1, EOI = 2 };

noreturn void die_nomem(void) { abort(); }
noreturn void die_write(void) { abort(); }
noreturn void die_ipme(void) { abort(); }
noreturn void straynewline(void) { longjmp(ended, STRAY); }

void smtpd_feed(void)
{
  if (bio_avail(&smtpd_in)) return;
  if (bio_feed(&smtpd_in) <= 0) longjmp(ended, EOI);
}

/* ---- MAIL and RCPT arguments ---- */

static sa addr = SA_ZERO;
static size_t params;

/* parsed - the address in arg, or "!" and addr_err */
static const char *parsed(const char *arg, size_t len, const sa *liphost)
{
  static char buf[1000];
  if (!addr_parse(&addr, arg, len, &params, liphost)) return "!";
  if (addr.len >= sizeof buf) return "?";
  memcpy(buf, addr.s, addr.len);
  buf[addr.len] = 0;
  return buf;
}
#define PARSED(s) parsed(s, sizeof s - 1, 0)

TEST(smtpd_addr_brackets)
{
  CHECK(!strcmp(PARSED("FROM:<a@b.example>"), "a@b.example"));
  CHECK(params == 18);
  CHECK(!strcmp(PARSED("from: <a@b.example> SIZE=100 BODY=8BITMIME"), "a@b.example"));
  CHECK(params == 19);
  CHECK(!strcmp(PARSED("FROM:<>"), ""));
  CHECK(addr.s != 0 && addr.len == 0);
  /* brackets are taken wherever they stand, as qmail did */
  CHECK(!strcmp(PARSED("<x@y>"), "x@y"));
  CHECK(!strcmp(PARSED("TO <x@y>"), "x@y"));
  /* a source route goes, quotes and backslashes come off */
  CHECK(!strcmp(PARSED("TO:<@r1.example,@r2.example:box@host>"), "box@host"));
  CHECK(!strcmp(PARSED("TO:<\"a b\"@host>"), "a b@host"));
  CHECK(!strcmp(PARSED("TO:<\"a>b\"@host>"), "a>b@host"));
  CHECK(!strcmp(PARSED("TO:<a\\>b@host>"), "a>b@host"));
  CHECK(!strcmp(PARSED("TO:<a\\\\b@host>"), "a\\b@host"));
  /* no closing bracket: the rest is the address */
  CHECK(!strcmp(PARSED("TO:<a@host"), "a@host"));
  CHECK(params == 10);
}

TEST(smtpd_addr_without_brackets)
{
  CHECK(!strcmp(PARSED("FROM:a@b SIZE=1"), "a@b"));
  CHECK(params == 9);
  CHECK(!strcmp(PARSED("to : a@b"), "a@b"));
  CHECK(!strcmp(PARSED("FROM x@y"), "!"));
  CHECK(!strncmp(addr_err, "501 syntax error, expected FROM:<address>", 41));
  CHECK(!strcmp(PARSED("x@y"), "!"));
  CHECK(!strncmp(addr_err, "501 ", 4));
}

TEST(smtpd_addr_refusals)
{
  static char arg[SMTPD_ADDRMAX + 16];
  size_t n;

  CHECK(!strcmp(PARSED("TO:<a\r@b>"), "!"));
  CHECK(!strcmp(addr_err, "501 sorry, an address may not contain CR, LF or NUL (#5.5.4)\r\n"));
  CHECK(!strcmp(PARSED("TO:<a@b>\n"), "!"));
  CHECK(!strncmp(addr_err, "501 sorry", 9));
  CHECK(!strcmp(PARSED("TO:<a\0b@c>"), "!"));
  CHECK(!strncmp(addr_err, "501 sorry", 9));
  /* SMTPD_ADDRMAX bytes are taken, one more is 555 */
  memcpy(arg, "TO:<", 4);
  memset(arg + 4, 'a', SMTPD_ADDRMAX);
  n = 4 + SMTPD_ADDRMAX;
  arg[n] = '>';
  CHECK(strlen(parsed(arg, n + 1, 0)) == SMTPD_ADDRMAX);
  arg[n] = 'a';
  arg[n + 1] = '>';
  CHECK(!strcmp(parsed(arg, n + 2, 0), "!"));
  CHECK(!strcmp(addr_err, "555 syntax error (#5.5.4)\r\n"));
}

/* a literal of this host's own address becomes localiphost */
TEST(smtpd_addr_literal_of_this_host)
{
  struct ifaddrs *ifa, *i;
  char ip[INET_ADDRSTRLEN], arg[64];
  sa lip = SA_ZERO;
  int found = 0;

  CHECK(sa_copys(&lip, "here.example"));
  CHECK(getifaddrs(&ifa) == 0);
  for (i = ifa; i && !found; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
      found = inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, ip, sizeof ip) != 0;
  freeifaddrs(ifa);
  CHECK(found);
  if (!found) return;
  strcpy(arg, "TO:<box@[");
  strcat(arg, ip);
  strcat(arg, "]>");
  CHECK(!strcmp(parsed(arg, strlen(arg), &lip), "box@here.example"));
  CHECK(!strncmp(parsed(arg, strlen(arg), 0), "box@[", 5));
  CHECK(!strcmp(PARSED("TO:<box@[0.0.0.0]>"), "box@[0.0.0.0]"));   /* liphost 0: kept */
  CHECK(!strcmp(parsed("TO:<box@[0.0.0.0]>", 18, &lip), "box@here.example"));
  CHECK(!strcmp(parsed("TO:<box@[IPv6:::]>", 18, &lip), "box@here.example"));
  CHECK(!strcmp(parsed("TO:<box@[192.0.2.1]>", 20, &lip), "box@[192.0.2.1]"));
  CHECK(!strcmp(parsed("TO:<box@[IPv6:0.0.0.0]>", 23, &lip), "box@[IPv6:0.0.0.0]"));
  sa_free(&lip);
}

TEST(smtpd_addr_params)
{
  CHECK(param_has("BODY=8BITMIME SMTPUTF8", 22, "smtputf8"));
  CHECK(param_has("  smtputf8  ", 12, "SMTPUTF8"));
  CHECK(!param_has("SMTPUTF8X", 9, "SMTPUTF8"));
  CHECK(!param_has("SMTPUTF", 7, "SMTPUTF8"));
  CHECK(!param_has("", 0, "SMTPUTF8"));
  CHECK(param_size("BODY=7BIT size=12345", 20) == 12345);
  CHECK(param_size("SIZE=12abc", 10) == 12);
  CHECK(param_size("SIZE=", 5) == 0);
  CHECK(param_size("SIZE", 4) == 0);
  CHECK(param_size("XSIZE=5", 7) == 0);
  CHECK(param_size("SIZE=99999999999999999999999999", 31) == ULONG_MAX);
}

/* ---- DATA and BDAT ---- */

static int infd = -1, outfd = -1;
static char inbuf[4096];
static qmail q;

/* session - the client's bytes s[0..n) as input, read bufsize at a time,
 * and an empty message for q */
static void session(const char *s, size_t n, size_t bufsize)
{
  char tmpl[] = "/tmp/unit-smtpd-XXXXXX";
  char tmpl2[] = "/tmp/unit-smtpd-XXXXXX";

  if (infd != -1) close(infd);
  if (outfd != -1) close(outfd);
  infd = mkstemp(tmpl);
  unlink(tmpl);
  CHECK(write(infd, s, n) == (ssize_t)n);
  lseek(infd, 0, SEEK_SET);
  bio_init(&smtpd_in, infd, inbuf, bufsize);
  outfd = mkstemp(tmpl2);
  unlink(tmpl2);
  memset(&q, 0, sizeof q);
  bio_init(&q.b, outfd, q.buf, sizeof q.buf);
}

/* stored - what went to qmail-queue so far */
static const char *stored(void)
{
  static char buf[8192];
  ssize_t r;
  CHECK(bio_flush(&q.b));
  r = pread(outfd, buf, sizeof buf - 1, 0);
  buf[r > 0 ? r : 0] = 0;
  return buf;
}

/* left - the input after the message, up to its end */
static const char *left(void)
{
  static char buf[256];
  size_t n = 0;
  for (;;) {
    size_t k = bio_avail(&smtpd_in);
    if (k > sizeof buf - 1 - n) k = sizeof buf - 1 - n;
    memcpy(buf + n, bio_peek(&smtpd_in), k);
    n += k;
    bio_skip(&smtpd_in, k);
    if (n == sizeof buf - 1 || bio_feed(&smtpd_in) <= 0) break;
  }
  buf[n] = 0;
  return buf;
}

static unsigned long hops;
static int toobig;

/* blast - data_blast over s as the input; RUNNING, STRAY or EOI */
static int blast(const char *s, size_t bufsize, unsigned long databytes)
{
  int how;
  session(s, strlen(s), bufsize);
  hops = 99; toobig = 99;
  how = setjmp(ended);
  if (how) return how;
  data_blast(&q, databytes, &hops, &toobig);
  return RUNNING;
}

static const size_t sizes[] = { 1, 2, 3, 5, 4096 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

TEST(smtpd_data_unstuffs_and_stops_at_the_dot)
{
  size_t i;
  for (i = 0; i < NSIZES; ++i) {
    CHECK(blast("Subject: x\r\n\r\nbody\r\n..dot\r\n..\r\n.x\r\n.\r\nQUIT\r\n", sizes[i], 0) == RUNNING);
    CHECK(!strcmp(stored(), "Subject: x\n\nbody\n.dot\n.\nx\n"));
    CHECK(hops == 0 && toobig == 0 && !q.flagerr);
    CHECK(!strcmp(left(), "QUIT\r\n"));
    /* an empty message, and a dot inside a line */
    CHECK(blast(".\r\nNOOP\r\n", sizes[i], 0) == RUNNING);
    CHECK(!strcmp(stored(), ""));
    CHECK(!strcmp(left(), "NOOP\r\n"));
    CHECK(blast("a.\r\n. \r\n.\r\n", sizes[i], 0) == RUNNING);
    CHECK(!strcmp(stored(), "a.\n \n"));
  }
}

TEST(smtpd_data_counts_hops_in_the_header)
{
  size_t i;
  for (i = 0; i < NSIZES; ++i) {
    CHECK(blast("Received: a\r\n\tfolded: no\r\nDelivered-To: b\r\nRECEIVED : c\r\n"
                "Received-SPF: pass\r\nX-Received: d\r\nSubject: e\r\n\r\n"
                "Received: in the body\r\n.\r\n", sizes[i], 0) == RUNNING);
    CHECK(hops == 3);
    CHECK(toobig == 0);
  }
  /* no empty line: the whole message is header */
  CHECK(blast("Received: a\r\nReceived: b\r\n.\r\n", 4096, 0) == RUNNING);
  CHECK(hops == 2);
}

TEST(smtpd_data_databytes)
{
  /* "0123456789\n" is 11 bytes as stored */
  CHECK(blast("0123456789\r\n.\r\n", 3, 11) == RUNNING);
  CHECK(toobig == 0 && !q.flagerr);
  CHECK(!strcmp(stored(), "0123456789\n"));
  CHECK(blast("0123456789\r\nmore\r\n.\r\nQUIT\r\n", 3, 11) == RUNNING);
  CHECK(toobig == 1 && q.flagerr);
  CHECK(!strcmp(left(), "QUIT\r\n"));        /* read to the dot all the same */
}

TEST(smtpd_data_bare_line_ends)
{
  size_t i;
  for (i = 0; i < NSIZES; ++i) {
    CHECK(blast("a\nb\r\n.\r\n", sizes[i], 0) == STRAY);
    CHECK(blast("a\rb\r\n.\r\n", sizes[i], 0) == STRAY);
    CHECK(blast(".\n", sizes[i], 0) == STRAY);
    CHECK(blast(".\rx", sizes[i], 0) == STRAY);
    CHECK(blast(".a\n", sizes[i], 0) == STRAY);
    CHECK(blast("a\r\n.\r\r\n", sizes[i], 0) == STRAY);
    /* the client goes away before the dot */
    CHECK(blast("a\r\nb\r\n", sizes[i], 0) == EOI);
  }
}

static void chunks(const size_t *cut, unsigned long databytes)
{
  bdat_start(&q, databytes);
  for (; *cut; ++cut) bdat_chunk(*cut);
  bdat_end(&hops, &toobig);
}

/* bdat - s as BDAT chunks of the lengths in cut (ending with 0) */
static int bdat(const char *s, const size_t *cut, size_t bufsize, unsigned long databytes)
{
  int how;
  session(s, strlen(s), bufsize);
  hops = 99; toobig = 99;
  how = setjmp(ended);
  if (how) return how;
  chunks(cut, databytes);
  return RUNNING;
}

TEST(smtpd_bdat_chunks)
{
  /* 23 bytes, a CR at [11] */
  static const size_t whole[] = { 23, 0 }, atcr[] = { 12, 11, 0 }, each[] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
  const char *msg = "Received: a\r\n\r\n.body\r\nz";
  size_t i;

  for (i = 0; i < NSIZES; ++i) {
    /* no dot-stuffing; a last line without CR LF is ended */
    CHECK(bdat(msg, whole, sizes[i], 0) == RUNNING);
    CHECK(!strcmp(stored(), "Received: a\n\n.body\nz\n"));
    CHECK(hops == 1 && toobig == 0);
    /* a CR at the end of one chunk meets its LF in the next */
    CHECK(bdat(msg, atcr, sizes[i], 0) == RUNNING);
    CHECK(!strcmp(stored(), "Received: a\n\n.body\nz\n"));
    CHECK(bdat(msg, each, sizes[i], 0) == RUNNING);
    CHECK(!strcmp(stored(), "Received: a\n\n.body\nz\n"));
    CHECK(hops == 1);
  }
  CHECK(bdat("a\nb", (const size_t[]){ 3, 0 }, 4096, 0) == STRAY);
  CHECK(bdat("a\rb", (const size_t[]){ 3, 0 }, 4096, 0) == STRAY);
  CHECK(bdat("a\r", (const size_t[]){ 2, 0 }, 4096, 0) == STRAY);   /* the last CR alone */
  CHECK(bdat("abcdef", (const size_t[]){ 6, 0 }, 4096, 3) == RUNNING);
  CHECK(toobig == 1 && q.flagerr);
  CHECK(bdat("abc", (const size_t[]){ 3, 0 }, 4096, 4) == RUNNING);   /* "abc\n" */
  CHECK(toobig == 0 && !q.flagerr);
  CHECK(bdat("ab", (const size_t[]){ 5, 0 }, 4096, 0) == EOI);
}

TEST(smtpd_bdat_skip)
{
  session("0123456789NOOP\r\n", 16, 3);
  if (setjmp(ended)) { CHECK(0); return; }
  bdat_skip(10);
  CHECK(!strcmp(left(), "NOOP\r\n"));
}
