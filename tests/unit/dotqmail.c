#include <string.h>

#include "harness.h"
#include "dotqmail.h"

TEST(dotqmail_safeext)
{
  sa x = SA_ZERO;
  CHECK(dq_safeext(&x, "Foo.Bar-BAZ"));
  CHECK(x.len == 11 && memcmp(x.s, "foo:bar-baz", 11) == 0);
  CHECK(dq_safeext(&x, ""));
  CHECK(x.len == 0);
  sa_free(&x);
}

/* the set of names that "exist" for a search */
static const char *const *names;
static const char *tried[16];
static int ntried;
static int exists(const char *fn, void *ctx)
{
  size_t i;
  (void)ctx;
  if (ntried < 16) tried[ntried++] = strdup(fn);
  if (!strcmp(fn, ".qmail-err")) return -1;
  for (i = 0; names[i]; ++i) if (!strcmp(names[i], fn)) return 1;
  return 0;
}

static int search(const char *dash, const char *ext, const char *const *have,
                  sa *fn, size_t *defpos)
{
  names = have;
  ntried = 0;
  return dq_search(fn, dash, ext, strlen(ext), exists, 0, defpos);
}

TEST(dotqmail_search_order)
{
  static const char *const none[] = { 0 };
  static const char *const dflt[] = { ".qmail-default", ".qmail-a-default", 0 };
  static const char *const top[] = { ".qmail-default", 0 };
  static const char *const exact[] = { ".qmail-a-b-c", ".qmail-default", 0 };
  static const char *const explicitdefault[] = { ".qmail-x-default", 0 };
  sa fn = SA_ZERO;
  size_t d;

  CHECK(search("-", "a-b-c", none, &fn, &d) == 0);
  CHECK(ntried == 4);
  CHECK(!strcmp(tried[0], ".qmail-a-b-c"));
  CHECK(!strcmp(tried[1], ".qmail-a-b-default"));
  CHECK(!strcmp(tried[2], ".qmail-a-default"));
  CHECK(!strcmp(tried[3], ".qmail-default"));

  CHECK(search("-", "a-b-c", dflt, &fn, &d) == 1);
  CHECK(!strcmp(fn.s, ".qmail-a-default") && d == 2);
  CHECK(search("-", "a-b-c", top, &fn, &d) == 1);
  CHECK(!strcmp(fn.s, ".qmail-default") && d == 0);
  CHECK(search("-", "a-b-c", exact, &fn, &d) == 1);
  CHECK(!strcmp(fn.s, ".qmail-a-b-c") && d == DQ_NODEFAULT);
  /* an exact name ending in default still sets $DEFAULT */
  CHECK(search("-", "x-default", explicitdefault, &fn, &d) == 1);
  CHECK(d == 2);

  /* a trailing dash: "a-" tries a- then a-default then default */
  CHECK(search("-", "a-", none, &fn, &d) == 0);
  CHECK(ntried == 3 && !strcmp(tried[1], ".qmail-a-default"));
  /* empty extension with a dash */
  CHECK(search("-", "", none, &fn, &d) == 0);
  CHECK(ntried == 2 && !strcmp(tried[0], ".qmail-") && !strcmp(tried[1], ".qmail-default"));
  /* no dash: the plain .qmail only, never a default */
  CHECK(search("", "", top, &fn, &d) == 0);
  CHECK(ntried == 1 && !strcmp(tried[0], ".qmail"));
  /* a callback error stops the search */
  CHECK(search("-", "err", top, &fn, &d) == -1);
  sa_free(&fn);
}

static int next(sa *t, size_t *pos, size_t *ln, dq_line *l)
{
  return dq_next(t, pos, ln, l);
}

TEST(dotqmail_lines)
{
  static const char in[] =
    "# c\n|prog  \t\n&a@b\nc@d\n./Mailbox\n/x/Maildir/\n\n+list\n+other\n|\n&\n/";
  sa t = SA_ZERO;
  dq_line l;
  size_t pos = 0, ln = 0;

  CHECK(sa_copyb(&t, in, sizeof in - 1));
  CHECK(dq_finish(&t));
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_COMMENT && l.lineno == 0);
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_PROGRAM && !strcmp(l.s, "prog") && l.len == 4);
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_FORWARD && !strcmp(l.s, "a@b"));
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_FORWARD && !strcmp(l.s, "c@d"));
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_MBOX && !strcmp(l.s, "./Mailbox"));
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_MAILDIR && !strcmp(l.s, "/x/Maildir/"));
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_BLANK && l.lineno == 6);
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_LIST);
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_IGNORE);
  /* edge lines: a lone | or & has an empty argument, never a read past it */
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_PROGRAM && l.len == 0 && !*l.s);
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_FORWARD && l.len == 0 && !*l.s);
  /* the last line had no newline: "/" alone is a maildir */
  CHECK(next(&t, &pos, &ln, &l) && l.type == DQ_MAILDIR && l.len == 1);
  CHECK(!next(&t, &pos, &ln, &l));
  CHECK(!next(&t, &pos, &ln, &l));
  sa_free(&t);
}

TEST(dotqmail_blank_first_and_nul)
{
  sa t = SA_ZERO;
  dq_line l;
  size_t pos = 0, ln = 0;

  CHECK(sa_copyb(&t, " \t\n|a\0b\n", 8));
  CHECK(dq_finish(&t) && t.len == 8);
  CHECK(dq_next(&t, &pos, &ln, &l) && l.type == DQ_BLANK && l.lineno == 0);
  CHECK(dq_next(&t, &pos, &ln, &l) && l.type == DQ_NUL);
  CHECK(!dq_next(&t, &pos, &ln, &l));
  /* without dq_finish a text with no newline yields nothing */
  t.len = 0;
  CHECK(sa_catb(&t, "abc", 3));
  pos = 0;
  CHECK(!dq_next(&t, &pos, &ln, &l));
  /* empty text */
  t.len = 0;
  pos = 0;
  CHECK(dq_finish(&t) && t.len == 1);
  CHECK(dq_next(&t, &pos, &ln, &l) && l.type == DQ_BLANK);
  sa_free(&t);
}

TEST(dotqmail_find_verdicts)
{
  static const char *const none[] = { 0 };
  static const char *const dflt[] = { ".qmail-list:x-default", 0 };
  sa fn = SA_ZERO, safe = SA_ZERO;
  size_t d;

  names = none;
  ntried = 0;
  /* the user's own address: no file is the default delivery */
  CHECK(dq_find(&fn, &safe, "", "", exists, 0, &d) == DQ_DEFAULTDELIVERY);
  /* an extension with no file: no mailbox */
  CHECK(dq_find(&fn, &safe, "-", "Nope", exists, 0, &d) == DQ_NOMAILBOX);
  CHECK(!strcmp(tried[ntried - 1], ".qmail-default"));
  /* the extension is made safe first: dots to colons, lower case */
  names = dflt;
  CHECK(dq_find(&fn, &safe, "-", "LIST.X-Today", exists, 0, &d) == DQ_FILE);
  CHECK(!strcmp(fn.s, ".qmail-list:x-default") && d == 7);
  CHECK(dq_find(&fn, &safe, "-", "err", exists, 0, &d) == -1);
  sa_free(&fn);
  sa_free(&safe);
}

TEST(dotqmail_home_and_file_modes)
{
  CHECK(dq_home(040755, 002) == DQ_OK);
  CHECK(dq_home(040775, 022) == DQ_WRITABLE);
  CHECK(dq_home(041755, 002) == DQ_STICKY);
  CHECK(dq_home(041777, 002) == DQ_WRITABLE);   /* writable wins */
  CHECK(dq_file(0100644, 002) == DQ_OK);
  CHECK(dq_file(0100646, 002) == DQ_WRITABLE);
  CHECK(dq_file(040755, 002) == 0);             /* a directory is no .qmail */
}
