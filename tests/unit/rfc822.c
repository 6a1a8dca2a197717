#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rfc822.h"

static int is(const sa *x, const char *s)
{
  return x->len == strlen(s) && memcmp(x->s, s, x->len) == 0;
}

/* parse - parse s and render it back into out; returns the parse result */
static int parse(rfc822_list *l, sa *out, const char *s)
{
  int r = rfc822_addrlist(l, s, strlen(s));
  out->len = 0;
  if (r == 1 && !rfc822_render(out, l, 4)) return -1;
  return r;
}

static int addr(const rfc822_list *l, size_t k, const char *want)
{
  sa x = SA_ZERO;
  int ok = rfc822_addr(&x, l, k) && is(&x, want);
  sa_free(&x);
  return ok;
}

TEST(rfc822_tokens_basic)
{
  rfc822_tokens t = RFC822_TOKENS_ZERO;
  const char *s = "Joe (the \\) man) \"q \\\" s\" <a.b@[1.2.3.4]>,";
  CHECK(rfc822_tokenize(&t, s, strlen(s)) == 1);
  CHECK(t.len == 11);
  CHECK(t.t[0].type == RFC822_ATOM && t.t[0].len == 3);
  CHECK(t.t[1].type == RFC822_COMMENT && t.t[1].len == 9 &&
        !memcmp(t.text.s + t.t[1].off, "the ) man", 9));
  CHECK(t.t[2].type == RFC822_QUOTED && t.t[2].len == 5 &&
        !memcmp(t.text.s + t.t[2].off, "q \" s", 5));
  CHECK(t.t[3].type == '<' && t.t[5].type == '.' && t.t[7].type == '@');
  CHECK(t.t[8].type == RFC822_LITERAL && t.t[8].len == 7);
  CHECK(t.t[9].type == '>' && t.t[10].type == ',');
  rfc822_tokfree(&t);
}

TEST(rfc822_tokens_hostile)
{
  rfc822_tokens t = RFC822_TOKENS_ZERO;
  static const char *bad[] = {
    "\"unterminated", "(open (nested) comment", "close)", "[1.2.3.4", "x]",
    "a\\b", "\"ends in backslash\\", "[a[b]]", 0
  };
  int k;
  for (k = 0; bad[k]; ++k) {
    CHECK(rfc822_tokenize(&t, bad[k], strlen(bad[k])) == 0);
    CHECK(t.err != 0);
  }
  CHECK(rfc822_tokenize(&t, "a\0b", 3) == 0);
  CHECK(t.err && strstr(t.err, "NUL"));
  CHECK(rfc822_tokenize(&t, "\"a\0b\"", 5) == 0);
  CHECK(rfc822_tokenize(&t, "(a\0b)", 5) == 0);
  /* folding inside a quoted string is not content */
  CHECK(rfc822_tokenize(&t, "\"a\n b\"", 6) == 1);
  CHECK(t.len == 1 && t.t[0].len == 3 && !memcmp(t.text.s, "a b", 3));
  CHECK(rfc822_tokenize(&t, "", 0) == 1 && t.len == 0);
  rfc822_tokfree(&t);
}

TEST(rfc822_addrlist_forms)
{
  rfc822_list l = RFC822_ZERO;
  sa out = SA_ZERO;

  CHECK(parse(&l, &out, "a@b, c@d (Somebody), A Person <e@f>,\n   random group: g@h, i@j;, k@l") == 1);
  CHECK(is(&out, "a@b, c@d (Somebody), A Person <e@f>, random group: g@h, i@j;, k@l"));
  CHECK(l.len == 8);
  CHECK(addr(&l, 0, "a@b") && addr(&l, 2, "e@f") && addr(&l, 7, "k@l"));
  CHECK(l.i[3].kind == RFC822_GROUP && l.i[6].kind == RFC822_GROUPEND);

  /* a space between addresses becomes a comma */
  CHECK(parse(&l, &out, "djb fred") == 1 && is(&out, "djb, fred"));
  CHECK(l.len == 2 && !l.i[0].at && addr(&l, 1, "fred"));

  /* source routes are dropped */
  CHECK(parse(&l, &out, "<@a.b,@c.d:joe@x.y>") == 1 && is(&out, "<joe@x.y>"));

  /* quoting is kept where needed and dropped where not */
  CHECK(parse(&l, &out, "\"joe smith\"@x, \"joe\"@y") == 1);
  CHECK(is(&out, "\"joe smith\"@x, joe@y"));
  CHECK(addr(&l, 0, "joe smith@x"));

  /* display names with specials are quoted */
  CHECK(parse(&l, &out, "John Q. Public <jqp@x>") == 1);
  CHECK(is(&out, "\"John Q. Public\" <jqp@x>"));

  /* empty group, <>, literal */
  CHECK(parse(&l, &out, "recipient list not shown: ;") == 1);
  CHECK(is(&out, "recipient list not shown: ;"));
  CHECK(parse(&l, &out, "<>") == 1 && is(&out, "<>") && addr(&l, 0, ""));
  CHECK(parse(&l, &out, "joe@[127.0.0.1]") == 1 && addr(&l, 0, "joe@[127.0.0.1]"));
  CHECK(parse(&l, &out, "") == 1 && l.len == 0 && out.len == 0);
  rfc822_free(&l);
  sa_free(&out);
}

TEST(rfc822_addrlist_errors)
{
  rfc822_list l = RFC822_ZERO;
  sa out = SA_ZERO;
  static const char *bad[] = {
    "foo: bar, baz",            /* group without ; (notqmail PR #8 input) */
    "a <b@c", "a b@c>", "<<a@b>>", "a <b@c> d", "x: y: z;;", "a;",
    "<@route.only>", "\"open@x", "(comment", "<a,b@c>", 0
  };
  int k;
  for (k = 0; bad[k]; ++k) {
    CHECK(parse(&l, &out, bad[k]) == 0);
    CHECK(l.err != 0);
  }
  rfc822_free(&l);
  sa_free(&out);
}

TEST(rfc822_setaddr_and_fold)
{
  rfc822_list l = RFC822_ZERO;
  sa out = SA_ZERO;
  size_t k;
  CHECK(parse(&l, &out, "Joe <joe>, (c) bob") == 1);
  CHECK(l.len == 2);
  CHECK(rfc822_setaddr(&l, 0, "joe", 3, 1, "example.com", 11));
  CHECK(rfc822_setaddr(&l, 1, "bob smith", 9, 1, "example.com", 11));
  out.len = 0;
  CHECK(rfc822_render(&out, &l, 4));
  CHECK(is(&out, "Joe <joe@example.com>, \"bob smith\"@example.com (c)"));
  /* many addresses: every line stays within 78 columns */
  CHECK(parse(&l, &out, "aaaaaaaaaaaaaaaaaaaa@example.com, bbbbbbbbbbbbbbbbbbbbbb@example.com, "
                        "cccccccccccccccccccccc@example.com, dddddddddddddddddddd@example.com") == 1);
  {
    size_t col = 4;
    int ok = 1;
    for (k = 0; k < out.len; ++k) {
      if (out.s[k] == '\n') col = 0;
      else if (++col > 78) ok = 0;
    }
    CHECK(ok);
    CHECK(memchr(out.s, '\n', out.len) != 0);
  }
  rfc822_free(&l);
  sa_free(&out);
}

/* output never carries a line break that did not come from folding */
TEST(rfc822_no_header_injection)
{
  rfc822_list l = RFC822_ZERO;
  sa out = SA_ZERO;
  CHECK(parse(&l, &out, "\"a\nb\" <x@y>, (c\nd) z@w") == 1);
  CHECK(memchr(out.s, '\n', out.len) == 0);
  rfc822_free(&l);
  sa_free(&out);
}

/* 10 MB addresses and comments: linear time, clean result */
TEST(rfc822_huge_input)
{
  size_t n = 10 * 1024 * 1024, i;
  char *s = malloc(n + 16);
  rfc822_list l = RFC822_ZERO;
  sa out = SA_ZERO;
  CHECK(s != 0);
  if (!s) return;
  memset(s, 'a', n);
  memcpy(s + n, "@example.com", 12);
  CHECK(rfc822_addrlist(&l, s, n + 12) == 1);
  CHECK(l.len == 1 && l.i[0].locallen == n && l.i[0].domainlen == 11);
  /* unbalanced quote at the start of 10 MB */
  s[0] = '"';
  CHECK(rfc822_addrlist(&l, s, n) == 0 && l.err);
  /* 10 MB of nested comments, never closed */
  for (i = 0; i < n; ++i) s[i] = '(';
  CHECK(rfc822_addrlist(&l, s, n) == 0 && l.err);
  /* a million tiny addresses separated by spaces */
  for (i = 0; i + 1 < 2000000; i += 2) { s[i] = 'x'; s[i + 1] = ' '; }
  CHECK(rfc822_addrlist(&l, s, 2000000) == 1 && l.len == 1000000);
  CHECK(rfc822_render(&out, &l, 0) && out.len > 2000000);
  free(s);
  rfc822_free(&l);
  sa_free(&out);
}

/* --- parse(render(x)) == x (issue 10, defect 7) ------------------------ */

static unsigned long rnd_state = 12345;
static unsigned rnd(unsigned n)
{
  rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
  return (unsigned)(rnd_state >> 33) % n;
}

/* gen - append a random piece of address-list text: mostly well-formed
 * pieces (atoms, quoted strings, literals, comments, addresses, groups)
 * with hostile bytes and stray specials mixed in */
static void gen(sa *s, int depth)
{
  static const char *const atoms[] = { "a", "bob", "x.y", "ex-ample", "com", "evil", "\xc3\xa9t\xc3\xa9",
                                       "!#$%&'*+/=?^_`{|}~", "1", "a..b", ".lead", "trail." };
  static const char pieces[] = " \t,:;<>@.()[]\"\\\r\n\x01\x7f\xff";
  static const char qchars[] = "a ,;:<>@.()[]\\\"\t\x01\x7f\xe9";
  unsigned k = rnd(depth > 3 ? 9 : 15), i, n;

  switch (k) {
    case 0: case 1: case 2:
      sa_cats(s, atoms[rnd(sizeof atoms / sizeof atoms[0])]);
      break;
    case 3:                                   /* a quoted string */
      sa_append(s, '"');
      for (n = rnd(6), i = 0; i < n; ++i) {
        char c = qchars[rnd(sizeof qchars - 1)];
        if (c == '"' || c == '\\') sa_append(s, '\\');
        sa_append(s, c);
      }
      sa_append(s, '"');
      break;
    case 4:                                   /* a domain literal */
      sa_append(s, '[');
      for (n = rnd(5), i = 0; i < n; ++i) {
        char c = "1.2 :a,@\\]("[rnd(11)];
        if (c == '\\' || c == ']') sa_append(s, '\\');
        sa_append(s, c);
      }
      sa_append(s, ']');
      break;
    case 5:                                   /* a comment, maybe nested */
      sa_append(s, '(');
      for (n = rnd(4), i = 0; i < n; ++i) {
        char c = "x ,@<\"\\()"[rnd(9)];
        if (c == '\\' || c == '(' || c == ')' || c == '"') sa_append(s, '\\');
        sa_append(s, c);
      }
      if (rnd(3) == 0) sa_cats(s, "(in)");
      sa_append(s, ')');
      break;
    case 6: case 7:
      sa_append(s, pieces[rnd(sizeof pieces - 1)]);
      break;
    case 8:
      sa_append(s, ' ');
      break;
    case 9: case 10:                          /* local@domain */
      gen(s, depth + 1);
      sa_append(s, '@');
      gen(s, depth + 1);
      if (rnd(2)) { sa_append(s, '.'); gen(s, depth + 1); }
      break;
    case 11: case 12:                         /* phrase <addr> comment */
      if (rnd(2)) gen(s, depth + 1);
      sa_cats(s, " <");
      if (rnd(4) == 0) sa_cats(s, "@route,@r2:");
      gen(s, depth + 1);
      sa_append(s, '>');
      if (rnd(2)) gen(s, depth + 1);
      break;
    case 13:                                  /* group: list ; */
      gen(s, depth + 1);
      sa_append(s, ':');
      gen(s, depth + 1);
      sa_cats(s, ", ");
      gen(s, depth + 1);
      sa_append(s, ';');
      break;
    default:                                  /* a list */
      gen(s, depth + 1);
      sa_cats(s, rnd(2) ? ", " : " ");
      gen(s, depth + 1);
  }
}

static int field_eq(const rfc822_list *a, size_t ao, size_t an,
                    const rfc822_list *b, size_t bo, size_t bn)
{
  return an == bn && (!an || !memcmp(a->text.s + ao, b->text.s + bo, an));
}

/* same - the two lists hold the same items */
static int same(const rfc822_list *a, const rfc822_list *b)
{
  size_t k;
  if (a->len != b->len) return 0;
  for (k = 0; k < a->len; ++k) {
    const rfc822_item *x = a->i + k, *y = b->i + k;
    if (x->kind != y->kind || x->angle != y->angle || x->at != y->at) return 0;
    if (!field_eq(a, x->phrase, x->phraselen, b, y->phrase, y->phraselen)) return 0;
    if (!field_eq(a, x->local, x->locallen, b, y->local, y->locallen)) return 0;
    if (!field_eq(a, x->domain, x->domainlen, b, y->domain, y->domainlen)) return 0;
    if (!field_eq(a, x->comment, x->commentlen, b, y->comment, y->commentlen)) return 0;
  }
  return 1;
}

/* roundtrip - 1 when s does not parse, or parses and its rendering parses
 * back to the same items with no line break but folding */
static int roundtrip(const char *s, size_t n)
{
  rfc822_list a = RFC822_ZERO, b = RFC822_ZERO;
  sa out = SA_ZERO;
  size_t i;
  int ok = 1, r = rfc822_addrlist(&a, s, n);

  if (r == 1) {
    ok = rfc822_render(&out, &a, 4) && rfc822_addrlist(&b, out.s, out.len) == 1 && same(&a, &b);
    for (i = 0; ok && i < out.len; ++i) {
      if (out.s[i] == '\r' || !out.s[i]) ok = 0;
      if (out.s[i] == '\n' && (i + 2 >= out.len || out.s[i + 1] != ' ' || out.s[i + 2] != ' ')) ok = 0;
    }
  }
  rfc822_free(&a);
  rfc822_free(&b);
  sa_free(&out);
  return ok;
}

TEST(rfc822_quoted_domain_roundtrip)
{
  rfc822_list l = RFC822_ZERO;
  sa out = SA_ZERO;
  static const char *const cases[] = {
    "x@\"a, evil@attacker.example\"", "x@\"a b\".c", "<x@\"\\\"q\\\\\">", "x@[1.2.3.4]", "x@[a\\]b]",
    "x@\"[1.2.3.4]\"", "x@b..c", "x@.b", "x@b.", "x@", "\"a@b\"@c", "@c", "x@\"\"", "x@[]", "x@[a]b",
  };
  size_t i;

  CHECK(parse(&l, &out, "x@\"a, evil@attacker.example\"") == 1);
  CHECK(l.len == 1 && addr(&l, 0, "x@a, evil@attacker.example"));
  CHECK(is(&out, "x@\"a, evil@attacker.example\""));
  CHECK(parse(&l, &out, "Joe <joe@example.com>, x@[127.0.0.1]") == 1);
  CHECK(is(&out, "Joe <joe@example.com>, x@[127.0.0.1]"));   /* plain ones stay plain */
  for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) CHECK(roundtrip(cases[i], strlen(cases[i])));
  rfc822_free(&l);
  sa_free(&out);
}

TEST(rfc822_roundtrip_property)
{
  sa s = SA_ZERO;
  unsigned long n, parsed = 0, bad = 0;

  for (n = 0; n < 200000; ++n) {
    s.len = 0;
    gen(&s, 0);
    if (!s.s) continue;
    {
      rfc822_list l = RFC822_ZERO;
      if (rfc822_addrlist(&l, s.s, s.len) == 1) ++parsed;
      rfc822_free(&l);
    }
    if (!roundtrip(s.s, s.len)) {
      if (++bad <= 5) {                       /* show the first few */
        harness_fail(__FILE__, __LINE__, "parse(render(x)) != x for:");
        sa_0(&s);
        harness_fail(__FILE__, __LINE__, s.s);
      }
    }
  }
  CHECK(bad == 0);
  CHECK(parsed > 50000);                      /* the generator makes real lists */
  sa_free(&s);
}
