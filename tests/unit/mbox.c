#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mbox.h"

TEST(mbox_fromline_one_word)
{
  sa f = SA_ZERO;
  CHECK(mbox_fromline(&f, "a b\t\r\n\x01\x7f@x", 10, 820631134));
  CHECK(f.len == 41 && memcmp(f.s, "From a-b-----@x Wed Jan  3 01:05:34 1996\n", 41) == 0);
  CHECK(mbox_fromline(&f, "", 0, 0));
  CHECK(f.len == 44 && memcmp(f.s, "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n", 44) == 0);
  sa_free(&f);
}

/* quote - in through the quoter in pieces of step bytes; what came out */
static size_t quote(const char *in, size_t n, size_t step, char *out, size_t max)
{
  char buf[64];
  bio b;
  mbox_quoter q = MBOX_QUOTER_ZERO;
  FILE *f = tmpfile();
  size_t i, got = 0;

  if (!f) return 0;
  bio_init(&b, fileno(f), buf, sizeof buf);
  for (i = 0; i < n; i += step)
    if (!mbox_quote(&b, &q, in + i, n - i < step ? n - i : step)) { fclose(f); return 0; }
  if (mbox_quoteend(&b, &q) && bio_flush(&b) && lseek(fileno(f), 0, SEEK_SET) == 0) {
    ssize_t r = read(fileno(f), out, max);
    got = r > 0 ? (size_t)r : 0;
  }
  fclose(f);
  return got;
}

/* mboxrd: >*"From " at a line start gets one more '>', wherever the blocks split */
TEST(mbox_quote_any_split)
{
  static const char in[] = "From a\n>From b\n>>From c\nFromage\n>x\nmid From d\n>>Fro";
  static const char want[] = ">From a\n>>From b\n>>>From c\nFromage\n>x\nmid From d\n>>Fro\n\n";
  char out[256];
  size_t step, n;

  for (step = 1; step <= sizeof in; ++step) {
    n = quote(in, sizeof in - 1, step, out, sizeof out);
    CHECK(n == sizeof want - 1 && memcmp(out, want, n) == 0);
  }
  n = quote("x\n", 2, 1, out, sizeof out);
  CHECK(n == 3 && memcmp(out, "x\n\n", 3) == 0);
  n = quote("", 0, 1, out, sizeof out);
  CHECK(n == 1 && out[0] == '\n');
}
