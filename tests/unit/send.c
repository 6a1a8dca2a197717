/* unit tests of the scheduler's modules: rewrite, retry, logsafe, qsbmf,
 * spawnproto */
#include <string.h>

#include "harness.h"
#include "cmap.h"
#include "logsafe.h"
#include "qsbmf.h"
#include "retry.h"
#include "rewrite.h"
#include "spawnproto.h"

static int eq(const sa *x, const char *s)
{
  return x->len == strlen(s) && (!x->len || !memcmp(x->s, s, x->len));
}

TEST(rewrite_routes)
{
  static const char locals[] = "here.example\0localhost\0";
  static const char pct[] = "here.example\0relay.example\0";
  static const char vd[] = "virt.example:joe\0.fax:uucp-fax\0no.virt.example:\0"
                           "box@special.example:spec\0:catch\0";
  cmap ml, mp, mv;
  rewrite_ctl c;
  sa out = SA_ZERO;

  CHECK(cmap_init(&ml, locals, sizeof locals - 1, 0));
  CHECK(cmap_init(&mp, pct, sizeof pct - 1, 0));
  CHECK(cmap_init(&mv, vd, sizeof vd - 1, 1));
  c.envnoathost = "here.example"; c.locals = &ml; c.percenthack = &mp; c.vdoms = &mv;

  CHECK(rewrite_rcpt(&out, "bob", 3, &c) == REWRITE_LOCAL && eq(&out, "bob@here.example"));
  CHECK(rewrite_rcpt(&out, "Bob@LOCALHOST", 13, &c) == REWRITE_LOCAL && eq(&out, "Bob@LOCALHOST"));
  CHECK(rewrite_rcpt(&out, "info@virt.example", 17, &c) == REWRITE_LOCAL && eq(&out, "joe-info@virt.example"));
  CHECK(rewrite_rcpt(&out, "x@a.b.fax", 9, &c) == REWRITE_LOCAL && eq(&out, "uucp-fax-x@a.b.fax"));
  CHECK(rewrite_rcpt(&out, "x@no.virt.example", 17, &c) == REWRITE_REMOTE && eq(&out, "x@no.virt.example"));
  CHECK(rewrite_rcpt(&out, "box@special.example", 19, &c) == REWRITE_LOCAL && eq(&out, "spec-box@special.example"));
  CHECK(rewrite_rcpt(&out, "any@else.example", 16, &c) == REWRITE_LOCAL && eq(&out, "catch-any@else.example"));
  /* percent hack, twice, ending at a local domain */
  CHECK(rewrite_rcpt(&out, "u%here.example%relay.example@here.example", 41, &c) == REWRITE_LOCAL
        && eq(&out, "u@here.example"));
  /* the empty recipient stays empty (qmail-lspawn refuses it) */
  CHECK(rewrite_rcpt(&out, "", 0, &c) == REWRITE_LOCAL && out.len == 0);
  CHECK(!strcmp(rewrite_unprepend("joe-info@virt.example", &mv), "info@virt.example"));
  CHECK(!strcmp(rewrite_unprepend("bob@here.example", &mv), "bob@here.example"));
  CHECK(!strcmp(rewrite_unprepend("other-x@virt.example", &mv), "other-x@virt.example"));
  cmap_free(&mv);
  /* no virtualdomains at all: everything foreign is remote */
  CHECK(cmap_init(&mv, "", 0, 1));
  CHECK(rewrite_rcpt(&out, "a@b.example", 11, &c) == REWRITE_REMOTE);
  cmap_free(&ml); cmap_free(&mp); cmap_free(&mv);
  sa_free(&out);
}

TEST(rewrite_verp_sender)
{
  sa out = SA_ZERO;
  CHECK(rewrite_verp(&out, "owner-@host.example-@[]", "box@dom.example"));
  CHECK(eq(&out, "owner-box=dom.example@host.example"));
  CHECK(rewrite_verp(&out, "plain@host.example", "box@dom.example") && eq(&out, "plain@host.example"));
  CHECK(rewrite_verp(&out, "", "box@dom.example") && eq(&out, ""));
  CHECK(rewrite_verp(&out, "-@[]", "box@dom.example") && eq(&out, "-@[]"));
  CHECK(rewrite_verp(&out, "o-@h-@[]", "nobox") && eq(&out, "o-@h-@[]"));
  sa_free(&out);
}

TEST(retry_schedule)
{
  CHECK(retry_isqrt(0) == 0 && retry_isqrt(1) == 1 && retry_isqrt(3) == 1);
  CHECK(retry_isqrt(4) == 2 && retry_isqrt(99) == 9 && retry_isqrt(100) == 10);
  CHECK(retry_isqrt(4294967295UL) == 65535);
  CHECK(retry_isqrt(18446744073709551615UL) == 4294967295UL);
  CHECK(retry_next(1000, 1000, 10) == 1100);
  CHECK(retry_next(1000, 900, 20) == 1400);        /* clock went back */
  CHECK(retry_next(1000, 1000 + 3600, 20) == 1000 + 80 * 80);
  CHECK(retry_next(0, 86400, 10) == 303 * 303);
}

TEST(logsafe_rules)
{
  sa out = SA_ZERO;
  CHECK(logsafe_cat(&out, "a b\nc%d\x01\xff~", 10));
  CHECK(eq(&out, "a_b/c_d__~"));
  sa_free(&out);
}

TEST(qsbmf_paragraphs)
{
  sa out = SA_ZERO;
  CHECK(qsbmf_para(&out, "bob@x", "Sorry, no mailbox here by that name. (#5.1.1)\n", 46));
  CHECK(eq(&out, "<bob@x>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"));
  out.len = 0;
  CHECK(qsbmf_para(&out, "a\nb", "one\n\ntwo", 8));
  CHECK(eq(&out, "<a_b>:\none\n/two\n\n"));
  out.len = 0;
  CHECK(qsbmf_para(&out, "c", "\nx\n\n\ny\n", 7));
  CHECK(eq(&out, "<c>:\n/x\n//y\n\n"));
  out.len = 0;
  CHECK(qsbmf_para(&out, "", "", 0));
  CHECK(eq(&out, "<>:\n\n"));
  sa_free(&out);
}

TEST(spawnproto_roundtrip)
{
  static const size_t max[4] = { 20, 100, 10, 20 };
  static const size_t rmax[1] = { 8 };
  static const char recips[] = "a@x\0averyveryverylong@x\0\0";
  sa out = SA_ZERO;
  spawnrd r, rr;
  size_t pos = 0, used;
  int done = 0;
  unsigned long n;

  /* three recipients: one fine, one past the field cap, one empty */
  CHECK(spawnproto_cmd(&out, 42, "7/123", "a-very-long-sender", 18, recips, sizeof recips - 1, 3));
  CHECK(spawnproto_report(&out, 7, 2, "Kok\0junk", 8));
  CHECK(out.len == sizeof "42\0" "7/123\0" "a-very-long-sender\0" "3\0" - 1 + sizeof recips - 1
        + sizeof "7\0" "2\0" "Kok" + 0);
  spawnrd_init(&r, 4, max);
  spawnrd_init(&rr, 1, rmax);
  /* byte by byte: records may arrive split anywhere */
  while (!done && pos < out.len) { used = spawnrd_feed(&r, out.s + pos, 1, &done); pos += used; }
  CHECK(done && !r.nomem && r.toolong);          /* sender cut at 10 */
  CHECK(spawnproto_num(&r.f[0], &n) && n == 42);
  CHECK(!strcmp(r.f[1].s, "7/123") && !strcmp(r.f[2].s, "a-very-lon"));
  CHECK(spawnproto_num(&r.f[3], &n) && n == 3);
  pos += spawnrd_feed(&rr, out.s + pos, out.len - pos, &done);
  CHECK(done && !rr.toolong && !strcmp(rr.f[0].s, "a@x"));
  spawnrd_reset(&rr);
  pos += spawnrd_feed(&rr, out.s + pos, out.len - pos, &done);
  CHECK(done && rr.toolong && !strcmp(rr.f[0].s, "averyver"));
  spawnrd_reset(&rr);
  pos += spawnrd_feed(&rr, out.s + pos, out.len - pos, &done);
  CHECK(done && !rr.toolong && rr.f[0].len == 1 && !rr.f[0].s[0]);
  spawnrd_reset(&r);
  r.nf = 3;
  used = spawnrd_feed(&r, out.s + pos, out.len - pos, &done);
  CHECK(done && pos + used == out.len);
  CHECK(spawnproto_num(&r.f[0], &n) && n == 7 && spawnproto_num(&r.f[1], &n) && n == 2);
  CHECK(!strcmp(r.f[2].s, "Kok"));
  CHECK(!spawnproto_num(&r.f[2], &n));
  spawnrd_free(&r);
  spawnrd_free(&rr);
  out.len = 0;
  CHECK(spawnproto_hello(&out, 1000) && out.len == 5 && !memcmp(out.s, "1000", 5));
  sa_free(&out);
}
