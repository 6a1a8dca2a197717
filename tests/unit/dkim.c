#include <string.h>

#include "harness.h"
#include "dkim.h"

static sa got;
static void collect(void *ctx, const char *s, size_t n) { (void)ctx; sa_catb(&got, s, n); }

static int body(int relaxed, const char *in, const char *want)
{
  struct dkim_body b;
  got.len = 0;
  dkim_body_init(&b, relaxed, collect, 0);
  for (size_t i = 0; in[i]; ++i) dkim_body_feed(&b, in + i, 1);   /* byte by byte: no state lost */
  dkim_body_end(&b);
  return got.len == strlen(want) && (!got.len || !memcmp(got.s, want, got.len));
}

TEST(dkim_body_canonicalization)
{
  CHECK(body(1, "", ""));
  CHECK(body(0, "", "\r\n"));
  CHECK(body(1, "a  b \t\n\n\n", "a b\r\n"));
  CHECK(body(0, "a  b \n\n\n", "a  b \r\n"));
  CHECK(body(1, " x\r\n\r\ny", " x\r\n\r\ny\r\n"));
  CHECK(body(1, "x\rY\n  \n", "x\r\nY\r\n"));       /* a bare CR ends a line, as qmail-remote sends it */
  CHECK(body(1, "\n\n", ""));
  sa_free(&got);
}

TEST(dkim_body_limit)
{
  struct dkim_body b;
  got.len = 0;
  dkim_body_init(&b, 1, collect, 0);
  b.limit = 3;
  dkim_body_feed(&b, "abcdef\n", 7);
  dkim_body_end(&b);
  CHECK(got.len == 3 && b.count == 8);
  sa_free(&got);
}

TEST(dkim_header_relaxed)
{
  sa o = SA_ZERO;
  static const char f[] = "SUBJect \t:  hello   there\n \tworld  \n";
  CHECK(dkim_hrelaxed(&o, f, sizeof f - 1));
  CHECK(o.len == 27 && !memcmp(o.s, "subject:hello there world\r\n", 27));
  o.len = 0;
  CHECK(!dkim_hrelaxed(&o, "no colon", 8));
  CHECK(dkim_hsimple(&o, "A: b\n c\n", 8) && o.len == 10 && !memcmp(o.s, "A: b\r\n c\r\n", 10));
  sa_free(&o);
}

TEST(dkim_tags)
{
  struct dkim_tags t;
  static const char s[] = " v=1; a=rsa-sha256;\r\n\tb=ab cd\r\n ef ; h = from : to;";
  const struct dkim_tag *x;
  CHECK(dkim_tags_parse(&t, s, sizeof s - 1));
  CHECK(t.n == 4);
  x = dkim_tag(&t, "h");
  CHECK(x && x->vlen == 9 && !memcmp(x->val, "from : to", 9));
  CHECK(!dkim_tags_parse(&t, "v=1; v=2", 8));        /* duplicate */
  CHECK(!dkim_tags_parse(&t, "1v=1", 4));
  CHECK(!dkim_tags_parse(&t, "v", 1));
  {
    char many[DKIM_MAXTAGS * 6 + 10];
    size_t n = 0;
    for (int i = 0; i <= DKIM_MAXTAGS; ++i) { many[n++] = 't'; many[n++] = (char)('a' + i / 26 % 26); many[n++] = (char)('a' + i % 26); many[n++] = '='; many[n++] = ';'; }
    CHECK(!dkim_tags_parse(&t, many, n));               /* too many tags */
  }
}

TEST(dkim_strip_b_and_hlist)
{
  sa o = SA_ZERO;
  sa f[3] = { SA_ZERO, SA_ZERO, SA_ZERO };
  size_t pick[8];
  static const char sig[] = "DKIM-Signature: v=1; bh=xyz; b=abc\n def; s=x";
  CHECK(dkim_strip_b(&o, sig, sizeof sig - 1));
  CHECK(o.len == 36 && !memcmp(o.s, "DKIM-Signature: v=1; bh=xyz; b=; s=x", 36));
  sa_copys(&f[0], "From: a\n");
  sa_copys(&f[1], "To: b\n");
  sa_copys(&f[2], "from: c\n");
  CHECK(dkim_hlist("from:to:from:from", 17, f, 3, pick, 8) == 4);
  CHECK(pick[0] == 2 && pick[1] == 1 && pick[2] == 0 && pick[3] == (size_t)-1);
  CHECK(dkim_hlist("from::to", 8, f, 3, pick, 8) == 0);
  CHECK(dkim_hlist("a:a:a", 5, f, 3, pick, 2) == 0);  /* more than max names */
  for (int i = 0; i < 3; ++i) sa_free(&f[i]);
  sa_free(&o);
}

TEST(dkim_base64)
{
  sa o = SA_ZERO, d = SA_ZERO;
  CHECK(dkim_b64enc(&o, (const unsigned char *)"hello", 5) && o.len == 8 && !memcmp(o.s, "aGVsbG8=", 8));
  CHECK(dkim_b64dec(&d, "aGVs\r\n bG8=", 11) && d.len == 5 && !memcmp(d.s, "hello", 5));
  d.len = 0;
  CHECK(!dkim_b64dec(&d, "aGV*", 4));
  CHECK(!dkim_b64dec(&d, "a===", 4));
  sa_free(&o);
  sa_free(&d);
}

/* random bytes from a fixed seed: the same run every time */
static unsigned long rnd_state = 12345;
static unsigned rnd(void) { rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL; return (unsigned)(rnd_state >> 33); }

TEST(dkim_parsers_fuzz)
{
  static const char alphabet[] = "ab=; \t\r\n:/+=%{}0x\x01\x7f\xff";
  char buf[300];
  sa o = SA_ZERO, f[4] = { SA_ZERO, SA_ZERO, SA_ZERO, SA_ZERO };
  struct dkim_tags t;
  size_t pick[16];
  sa_copys(&f[0], "a: x\n"); sa_copys(&f[1], "b: y\n"); sa_copys(&f[2], "A: z\n"); sa_copys(&f[3], ":\n");
  for (int round = 0; round < 20000; ++round) {
    size_t n = rnd() % sizeof buf;
    for (size_t i = 0; i < n; ++i) buf[i] = (round & 1) ? (char)rnd() : alphabet[rnd() % (sizeof alphabet - 1)];
    if (dkim_tags_parse(&t, buf, n)) {
      CHECK(t.n <= DKIM_MAXTAGS);
      for (size_t k = 0; k < t.n; ++k)
        CHECK(t.t[k].name >= buf && t.t[k].val + t.t[k].vlen <= buf + n);
    }
    o.len = 0; dkim_hrelaxed(&o, buf, n);
    o.len = 0; dkim_hsimple(&o, buf, n);
    o.len = 0; dkim_strip_b(&o, buf, n);
    CHECK(o.len <= n);
    o.len = 0; dkim_b64dec(&o, buf, n);
    CHECK(o.len <= n);
    {
      size_t np = dkim_hlist(buf, n, f, 4, pick, 16);
      CHECK(np <= 16);
      for (size_t k = 0; k < np; ++k) CHECK(pick[k] == (size_t)-1 || pick[k] < 4);
    }
  }
  for (int i = 0; i < 4; ++i) sa_free(&f[i]);
  sa_free(&o);
}
