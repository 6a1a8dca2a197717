#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "assign.h"
#include "cdb.h"
#include "cdb_make.h"

static int tmpfd(void)
{
  char name[] = "/tmp/assigntestXXXXXX";
  int fd = mkstemp(name);
  if (fd != -1) unlink(name);
  return fd;
}

/* textfd - a file holding n bytes of s, positioned at the start */
static int textfd(const char *s, size_t n)
{
  int fd = tmpfd();
  if (fd == -1) return -1;
  if (write(fd, s, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) == -1) { close(fd); return -1; }
  return fd;
}

/* compile - run assign_make on text; the cdb fd, or -1 (r holds the result) */
static int compile(const char *text, int *r, unsigned long *line, const char **why)
{
  int in = textfd(text, strlen(text)), out = tmpfd();
  if (in == -1 || out == -1) return -1;
  *r = assign_make(in, out, line, why);
  close(in);
  return out;
}

static int is(const sa *x, const char *s)
{
  return x->len == strlen(s) && memcmp(x->s, s, x->len) == 0 && x->s[x->len] == 0;
}

static int find(int fd, const char *local, assign *a)
{
  return assign_find(a, fd, local, strlen(local));
}

#define MANPAGE \
  "+:alias:7790:2108:/var/qmail/alias:-::\n" \
  "+joe-:joe:507:100:/home/joe:-::\n" \
  "=joe:joe:507:100:/home/joe:::\n" \
  ".\n"

TEST(assign_manpage_example)
{
  assign a = ASSIGN_ZERO;
  unsigned long line;
  const char *why;
  int r, fd = compile(MANPAGE, &r, &line, &why);

  CHECK(fd != -1 && r == 1);
  CHECK(find(fd, "joe", &a) == 1);
  CHECK(is(&a.user, "joe") && a.uid == 507 && a.gid == 100);
  CHECK(is(&a.home, "/home/joe") && is(&a.dash, "") && is(&a.ext, ""));

  CHECK(find(fd, "joe-direct", &a) == 1);
  CHECK(is(&a.user, "joe") && is(&a.dash, "-") && is(&a.ext, "direct"));

  CHECK(find(fd, "bill", &a) == 1);
  CHECK(is(&a.user, "alias") && a.uid == 7790 && a.gid == 2108);
  CHECK(is(&a.home, "/var/qmail/alias") && is(&a.dash, "-") && is(&a.ext, "bill"));

  /* case-insensitive keys; the extension keeps the case it came in */
  CHECK(find(fd, "JOE", &a) == 1 && is(&a.user, "joe") && is(&a.ext, ""));
  CHECK(find(fd, "Joe-Direct", &a) == 1 && is(&a.user, "joe") && is(&a.ext, "Direct"));
  CHECK(find(fd, "", &a) == 1 && is(&a.user, "alias") && is(&a.ext, ""));
  assign_free(&a);
  close(fd);
}

TEST(assign_precedence)
{
  assign a = ASSIGN_ZERO;
  unsigned long line;
  const char *why;
  int r, fd = compile(
    "=dup:first:1:1:/one:::\n"
    "=dup:second:2:2:/two:::\n"
    "+du:wild:3:3:/three:-:w-:\n"
    "+dupl:longer:4:4:/four:-:l-:\n"
    "+d:short:5:5:/five:-:s-:\n"
    "+list-:lists:6:6:/lists:-:pre-:\n"
    "+list-:later:7:7:/later:-::\n"
    ".\n", &r, &line, &why);

  CHECK(fd != -1 && r == 1);
  CHECK(find(fd, "dup", &a) == 1 && is(&a.user, "first") && is(&a.home, "/one"));
  CHECK(find(fd, "duplex", &a) == 1 && is(&a.user, "longer") && is(&a.ext, "l-ex"));
  CHECK(find(fd, "dupl", &a) == 1 && is(&a.user, "longer") && is(&a.ext, "l-"));
  CHECK(find(fd, "dug", &a) == 1 && is(&a.user, "wild") && is(&a.ext, "w-g"));
  CHECK(find(fd, "dx", &a) == 1 && is(&a.user, "short") && is(&a.ext, "s-x"));
  CHECK(find(fd, "list-Foo-Bar", &a) == 1 && is(&a.user, "lists") && is(&a.ext, "pre-Foo-Bar"));
  CHECK(find(fd, "x", &a) == 0);
  CHECK(find(fd, "lis", &a) == 0);
  /* a NUL inside local never matches a shorter key */
  CHECK(assign_find(&a, fd, "dup\0x", 5) == 0);
  assign_free(&a);
  close(fd);
}

#define JOE "joe\000507\000100\000/home/joe\000\000"
#define LISTS "lists\0006\0006\000/lists\000-\000pre-"
#define D(s) s, sizeof s - 1

TEST(assign_layout_is_netqmails)
{
  struct cdb c;
  unsigned long line;
  const char *why;
  char buf[64];
  int r, fd = compile("=Joe:joe:507:100:/home/joe:::extra junk\n"
                      "+Lists-:lists:6:6:/lists:-:pre-:\n+X:x:1:1:/x:::\n+:alias:2:2:/a:-::\n.\n",
                      &r, &line, &why);

  CHECK(fd != -1 && r == 1);
  cdb_init(&c, fd);
  CHECK(cdb_find(&c, "!joe", 5) == 1);
  CHECK(cdb_datalen(&c) == sizeof JOE - 1);
  CHECK(cdb_read(&c, buf, sizeof JOE - 1, cdb_datapos(&c)) == 0);
  CHECK(memcmp(buf, JOE, sizeof JOE - 1) == 0);
  CHECK(cdb_find(&c, "!joe", 4) == 0);
  CHECK(cdb_find(&c, "!lists-", 7) == 1);
  CHECK(cdb_datalen(&c) == sizeof LISTS - 1);
  CHECK(cdb_read(&c, buf, sizeof LISTS - 1, cdb_datapos(&c)) == 0);
  CHECK(memcmp(buf, LISTS, sizeof LISTS - 1) == 0);
  CHECK(cdb_find(&c, "!", 1) == 1);
  CHECK(cdb_find(&c, "", 0) == 1);
  CHECK(cdb_datalen(&c) == 2);
  CHECK(cdb_read(&c, buf, 2, cdb_datapos(&c)) == 0);
  CHECK(memcmp(buf, "-x", 2) == 0);
  cdb_free(&c);
  close(fd);
}

/* a users/cdb as netqmail's qmail-newu writes it: wildcard characters kept
 * in their original case */
TEST(assign_reads_netqmail_cdb)
{
  struct cdb_make m;
  assign a = ASSIGN_ZERO;
  int fd = tmpfd();

  CHECK(fd != -1);
  CHECK(cdb_make_start(&m, fd) == 0);
  CHECK(cdb_make_add(&m, "!bob\0", 5, D("bob\0001000\0001000\0/home/bob\0\0")) == 0);
  CHECK(cdb_make_add(&m, "!sales", 6, D("sam\0001001\0001001\0/home/sam\0-\0s")) == 0);
  CHECK(cdb_make_add(&m, "", 0, "S", 1) == 0);
  CHECK(cdb_make_finish(&m) == 0);
  CHECK(find(fd, "BOB", &a) == 1 && is(&a.user, "bob") && a.uid == 1000 && is(&a.home, "/home/bob"));
  CHECK(find(fd, "salesTeam", &a) == 1 && is(&a.user, "sam") && is(&a.ext, "sTeam"));
  CHECK(find(fd, "bo", &a) == 0);
  assign_free(&a);
  close(fd);

  /* no wildcard-character record: every prefix is tried */
  fd = tmpfd();
  CHECK(cdb_make_start(&m, fd) == 0);
  CHECK(cdb_make_add(&m, "!ab", 3, D("u\0001\0001\0/h\0-\0")) == 0);
  CHECK(cdb_make_finish(&m) == 0);
  CHECK(find(fd, "abc", &a) == 1 && is(&a.user, "u") && is(&a.ext, "c"));
  assign_free(&a);
  close(fd);
}

TEST(assign_corrupt_record)
{
  struct cdb_make m;
  assign a = ASSIGN_ZERO;
  int fd = tmpfd();

  CHECK(cdb_make_start(&m, fd) == 0);
  CHECK(cdb_make_add(&m, "!short\0", 7, D("u\0001\0001")) == 0);
  CHECK(cdb_make_add(&m, "!baduid\0", 8, D("u\0x1\0001\0/h\0\0")) == 0);
  CHECK(cdb_make_add(&m, "", 0, "", 0) == 0);
  CHECK(cdb_make_finish(&m) == 0);
  errno = 0;
  CHECK(find(fd, "short", &a) == -1 && errno == EPROTO);
  errno = 0;
  CHECK(find(fd, "baduid", &a) == -1 && errno == EINVAL);
  assign_free(&a);
  close(fd);

  /* not a cdb at all: a short file */
  fd = textfd("tiny", 4);
  CHECK(find(fd, "x", &a) == -1);
  close(fd);
}

static int bad(const char *text, unsigned long want)
{
  unsigned long line;
  const char *why = 0;
  int r, fd = compile(text, &r, &line, &why);
  if (fd != -1) close(fd);
  return fd != -1 && r == 0 && line == want && why && *why;
}

TEST(assign_format_errors)
{
  CHECK(bad("=a:a:1:1:/h:::\n", 2));                      /* no final dot */
  CHECK(bad("", 1));
  CHECK(bad("=a:a:1:1:/h:::\n=b:b:1:1:/h:::", 2));       /* no newline, no dot */
  CHECK(bad("=a:a:1:1:/h::\n.\n", 1));                    /* six colons */
  CHECK(bad("=a\n.\n", 1));
  CHECK(bad("\n.\n", 1));                                 /* blank line */
  CHECK(bad("#a:a:1:1:/h:::\n.\n", 1));
  CHECK(bad("=a:a:x:1:/h:::\n.\n", 1));                   /* uid */
  CHECK(bad("=a:a:1::/h:::\n.\n", 1));                    /* gid */
  CHECK(bad("=a:a:99999999999999999999999:1:/h:::\n.\n", 1));
  CHECK(bad(".junk\n", 1));
}

TEST(assign_nul_and_long_lines)
{
  static const char nul[] = "=ok:a:1:1:/h:::\n=b:a\0b:1:1:/h:::\n.\n";
  unsigned long line;
  const char *why;
  char *big;
  int in, out, r;

  in = textfd(nul, sizeof nul - 1);
  out = tmpfd();
  CHECK(assign_make(in, out, &line, &why) == 0 && line == 2);
  close(in);
  close(out);

  big = malloc(ASSIGN_MAXLINE + 64);
  CHECK(big != 0);
  if (!big) return;
  memset(big, 'a', ASSIGN_MAXLINE + 63);
  memcpy(big, "=x:", 3);
  big[ASSIGN_MAXLINE + 63] = 0;
  CHECK(bad(big, 1));
  free(big);

  /* CRLF line ends and a dot with trailing blanks are accepted */
  out = compile("=a:a:1:1:/h:::\r\n. \r\n", &r, &line, &why);
  CHECK(out != -1 && r == 1);
  close(out);
  /* anything after the final dot is ignored; a dot without newline ends */
  out = compile("=a:a:1:1:/h:::\n.\ngarbage", &r, &line, &why);
  CHECK(out != -1 && r == 1);
  close(out);
  out = compile("=a:a:1:1:/h:::\n.", &r, &line, &why);
  CHECK(out != -1 && r == 1);
  close(out);
}

TEST(assign_parse_getpw_output)
{
  assign a = ASSIGN_ZERO;
  static const char ok[] = "joe\000507\000100\000/home/joe\000-\000ext\000";
  static const char nofinal[] = "joe\000507\000100\000/home/joe\000-\000ext";
  static const char extra[] = "joe\000507\000100\000/home/joe\000-\000e\000x\000";
  static const char baduid[] = "joe\000-1\000100\000/home/joe\000-\000ext\000";

  CHECK(assign_parse(&a, ok, sizeof ok - 1) == 1);
  CHECK(is(&a.user, "joe") && a.uid == 507 && a.gid == 100 && is(&a.home, "/home/joe"));
  CHECK(is(&a.dash, "-") && is(&a.ext, "ext"));
  CHECK(assign_parse(&a, nofinal, sizeof nofinal - 1) == 0);
  CHECK(assign_parse(&a, extra, sizeof extra - 1) == 0);
  errno = 0;
  CHECK(assign_parse(&a, baduid, sizeof baduid - 1) == 0 && errno == EINVAL);
  CHECK(assign_parse(&a, "", 0) == 0);
  assign_free(&a);
}

TEST(assign_lookup_in_cwd)
{
  char dir[] = "/tmp/assigndirXXXXXX";
  assign a = ASSIGN_ZERO;
  unsigned long line;
  const char *why;
  int here, in, out, ok;

  here = open(".", O_RDONLY | O_DIRECTORY);
  CHECK(here != -1 && mkdtemp(dir) != 0);
  if (here == -1 || chdir(dir) == -1) return;
  CHECK(assign_lookup(&a, "joe", 3) == 0);         /* no users/cdb */
  ok = mkdir("users", 0755) == 0;
  CHECK(ok);
  in = textfd(MANPAGE, strlen(MANPAGE));
  out = open("users/cdb", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(in != -1 && out != -1 && assign_make(in, out, &line, &why) == 1);
  close(in);
  close(out);
  CHECK(assign_lookup(&a, "joe-x", 5) == 1 && is(&a.user, "joe") && is(&a.ext, "x"));
  unlink("users/cdb");
  rmdir("users");
  CHECK(fchdir(here) == 0);
  rmdir(dir);
  close(here);
  assign_free(&a);
}
