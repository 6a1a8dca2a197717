/* unit tests for src/mail/netstring */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "netstring.h"

static char nbuf[64];
static int nfd[2];

/* in - a bio reading s (a small test input) from a pipe */
static bio in(const char *s, size_t n)
{
  bio b;
  if (pipe(nfd) == -1) nfd[0] = nfd[1] = -1;
  if (write(nfd[1], s, n) != (ssize_t)n) nfd[0] = -1;
  close(nfd[1]);
  bio_init(&b, nfd[0], nbuf, sizeof nbuf);
  return b;
}

static int getlen(const char *s, size_t max, size_t *len)
{
  bio b = in(s, strlen(s));
  int r = netstring_getlen(&b, 0, max, len);
  close(nfd[0]);
  return r;
}

TEST(netstring_lengths)
{
  size_t len = 99;
  CHECK(getlen("12:", 100, &len) == 1 && len == 12);
  CHECK(getlen("0:", 100, &len) == 1 && len == 0);
  CHECK(getlen("", 100, &len) == 0);
  CHECK(getlen(":", 100, &len) == -2);          /* no digits */
  CHECK(getlen("12x:", 100, &len) == -2);       /* non-digit */
  CHECK(getlen("x12:", 100, &len) == -2);       /* leading garbage */
  CHECK(getlen(" 12:", 100, &len) == -2);
  CHECK(getlen("-1:", 100, &len) == -2);
  CHECK(getlen("+1:", 100, &len) == -2);
  CHECK(getlen("012:", 100, &len) == -2);       /* leading zero */
  CHECK(getlen("00:", 100, &len) == -2);
  CHECK(getlen("101:", 100, &len) == -2);       /* over max */
  CHECK(getlen("100:", 100, &len) == 1 && len == 100);
  CHECK(getlen("12", 100, &len) == -2);         /* EOF inside */
  CHECK(getlen("18446744073709551616:", SIZE_MAX, &len) == -2);   /* 2^64 */
  CHECK(getlen("99999999999999999999999:", SIZE_MAX, &len) == -2);
  CHECK(getlen("18446744073709551615:", SIZE_MAX, &len) == 1 && len == SIZE_MAX);
}

TEST(netstring_get_whole)
{
  sa out = SA_ZERO;
  bio b = in("5:hello,0:,3:abc;", 17);
  CHECK(netstring_get(&b, 0, 10, &out) == 1 && out.len == 5 && !memcmp(out.s, "hello", 5));
  CHECK(netstring_get(&b, 0, 10, &out) == 1 && out.len == 0);
  CHECK(netstring_get(&b, 0, 10, &out) == -2);  /* ';' is no comma */
  close(nfd[0]);
  b = in("5:hel", 5);
  CHECK(netstring_get(&b, 0, 10, &out) == -2);  /* EOF inside the payload */
  close(nfd[0]);
  b = in("11:hello world,", 15);
  CHECK(netstring_get(&b, 0, 10, &out) == -2);  /* longer than max */
  close(nfd[0]);
  sa_free(&out);
}

TEST(netstring_budget)
{
  sa out = SA_ZERO;
  size_t budget;
  bio b = in("3:abc,3:abc,", 12);
  budget = 6;
  CHECK(netstring_get(&b, &budget, 10, &out) == 1 && budget == 0);
  CHECK(netstring_get(&b, &budget, 10, &out) == -2);   /* nothing left */
  close(nfd[0]);
  b = in("3:abc,", 6);
  budget = 5;                                          /* no room for ',' */
  CHECK(netstring_get(&b, &budget, 10, &out) == -2);
  close(nfd[0]);
  b = in("10:abcdefghij,", 14);
  budget = 8;                                          /* nested one too long */
  CHECK(netstring_get(&b, &budget, 100, &out) == -2);
  close(nfd[0]);
  b = in("1234", 4);
  budget = 2;                                          /* digits past budget */
  CHECK(netstring_getlen(&b, &budget, 100000, &budget) == -2);
  close(nfd[0]);
  b = in("4:abcd,", 7);
  budget = 7;
  CHECK(netstring_getlen(&b, &budget, 10, &out.len) == 1 && out.len == 4 && budget == 5);
  CHECK(netstring_skip(&b, &budget, 4) == 1 && budget == 1);
  CHECK(netstring_getcomma(&b, &budget) == 1 && budget == 0);
  close(nfd[0]);
  sa_free(&out);
}

TEST(netstring_write)
{
  sa out = SA_ZERO;
  CHECK(netstring_cat(&out, "hello world!", 12) == 1);
  CHECK(out.len == 16 && !memcmp(out.s, "12:hello world!,", 16));
  CHECK(netstring_cat(&out, "", 0) == 1);
  CHECK(out.len == 19 && !memcmp(out.s + 16, "0:,", 3));
  out.len = 0;
  CHECK(netstring_catlen(&out, 1234567) == 1 && out.len == 8 && !memcmp(out.s, "1234567:", 8));
  sa_free(&out);
}
