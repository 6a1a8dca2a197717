/* qmail-pw2u - turn a V7 passwd file on stdin into users/assign lines on
 * stdout (qmail-pw2u(8)), with the rules of qmail-getpw and the extra files
 * users/include, exclude, mailnames, subusers and append. Exit 0; 100 for
 * a bad option; 111 for anything else. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "cmap.h"
#include "open.h"
#include "sa.h"
#include "say.h"
#include "scan.h"
#include "str.h"

#include "control.h"
#include "auto.h"

#define FATAL "qmail-pw2u: fatal: "
#define MAXLINE 65536

static noreturn void die_nomem(void) { die(111, FATAL, "out of memory\n", NULL); }
static noreturn void die_write(void)
{
  die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
}
static noreturn void die_read(const char *fn)
{
  die(111, FATAL, "unable to read ", fn, ": ", say_errno(), "\n", NULL);
}
static noreturn void die_long(const char *fn)
{
  die(111, FATAL, "line too long in ", fn, "\n", NULL);
}

static const char *dashcolon = "-:";  /* dash field and its colon; -/ */
static int homestrategy = 2;          /* 2 -o skip, 1 -h stop, 0 -H no check */
static int flagnoupper = 1;
static char breakch;                      /* the user-extension break, 0 none */
static int flagalias;

static cmap incl = CMAP_ZERO, excl = CMAP_ZERO, mana = CMAP_ZERO, users = CMAP_ZERO;
static int okincl, okexcl, okmana;
static sa allusers = SA_ZERO;         /* user ":" uugh NUL, for subusers */
static sa uugh = SA_ZERO;             /* ":user:uid:gid:home:" */
static sa line = SA_ZERO;
static sa tmp = SA_ZERO;

static char outbuf[BIO_SIZE];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);

static void put(const char *s, size_t n) { if (!bio_put(&out, s, n)) die_write(); }
static void puts0(const char *s) { put(s, strlen(s)); }

static int digits(const char *s, size_t n)
{
  unsigned long u;
  return n && scan_ulongn(s, n, &u) == n;
}

/* fields - split s[0..n) at colons into up to max fields; the count */
static size_t fields(const char *s, size_t n, const char **f, size_t *flen, size_t max)
{
  size_t k = 0, i;
  for (;;) {
    i = byte_chr(s, n, ':');
    if (k == max) return k;
    f[k] = s;
    flen[k++] = i;
    if (i == n) return k;
    s += i + 1;
    n -= i + 1;
  }
}

/* mailname - the = entry for name and, with a break, its + entry */
static void mailname(const char *name, size_t n)
{
  put("=", 1); put(name, n); put(uugh.s, uugh.len); put("::\n", 3);
  if (breakch) {
    put("+", 1); put(name, n); put(&breakch, 1); put(uugh.s, uugh.len);
    puts0(dashcolon); put(":\n", 2);
  }
}

/* account - one passwd line (without newline) */
static void account(const char *s, size_t n)
{
  const char *f[7], *names;
  size_t flen[7], i;
  unsigned long uid;
  struct stat st;

  if (byte_chr(s, n, 0) < n) return;
  if (fields(s, n, f, flen, 7) < 7) return;  /* home must end in a colon */
  if (!flen[0] || !digits(f[2], flen[2]) || !digits(f[3], flen[3])) return;
  scan_ulongn(f[2], flen[2], &uid);
  if (!uid) return;
  if (flagnoupper)
    for (i = 0; i < flen[0]; ++i) if (f[0][i] >= 'A' && f[0][i] <= 'Z') return;
  if (okincl && !cmap_get(&incl, f[0], flen[0])) return;
  if (okexcl && cmap_get(&excl, f[0], flen[0])) return;
  if (homestrategy) {
    if (!sa_copyb(&tmp, f[5], flen[5]) || !sa_0(&tmp)) die_nomem();
    if (stat(tmp.s, &st) == -1) {
      if (errno != ENOENT || homestrategy == 1)
        die(111, FATAL, "unable to stat ", tmp.s, ": ", say_errno(), "\n", NULL);
      return;
    }
    if (st.st_uid != uid) return;
  }

  if (!sa_copyb(&uugh, ":", 1) || !sa_catb(&uugh, f[0], flen[0]) || !sa_append(&uugh, ':')
      || !sa_catb(&uugh, f[2], flen[2]) || !sa_append(&uugh, ':')
      || !sa_catb(&uugh, f[3], flen[3]) || !sa_append(&uugh, ':')
      || !sa_catb(&uugh, f[5], flen[5]) || !sa_append(&uugh, ':'))
    die_nomem();
  if (!sa_catb(&allusers, f[0], flen[0]) || !sa_append(&allusers, ':')
      || !sa_cat(&allusers, &uugh) || !sa_0(&allusers))
    die_nomem();

  if (flen[0] == strlen(auto_usera) && !memcmp(f[0], auto_usera, flen[0])) {
    put("+", 1); put(uugh.s, uugh.len); puts0(dashcolon); put(":\n", 2);
    flagalias = 1;
  }

  names = okmana ? cmap_get(&mana, f[0], flen[0]) : 0;
  if (!names) {
    mailname(f[0], flen[0]);
    return;
  }
  for (;;) {
    while (*names == ':') ++names;
    if (!*names) break;
    i = strlen(names);
    i = byte_chr(names, i, ':');
    mailname(names, i);
    names += i;
  }
}

/* subuser - one line sub:user:pre: of users/subusers */
static void subuser(const char *s, size_t n)
{
  const char *f[4], *u;
  size_t flen[4];

  if (!n || s[0] == '#') return;
  if (fields(s, n, f, flen, 4) < 4) return;
  u = cmap_get(&users, f[1], flen[1]);
  if (!u) {
    if (!sa_copyb(&tmp, f[1], flen[1]) || !sa_0(&tmp)) die_nomem();
    die(111, FATAL, "unable to find ", tmp.s, " user for subuser\n", NULL);
  }
  put("=", 1); put(f[0], flen[0]); puts0(u); puts0(dashcolon);
  put(f[2], flen[2]); put(":\n", 2);
  if (breakch) {
    put("+", 1); put(f[0], flen[0]); put(&breakch, 1); puts0(u); puts0(dashcolon);
    put(f[2], flen[2]); put("-:\n", 3);
  }
}

/* eachline - call f on every line of fd (newline removed) */
static void eachline(int fd, const char *fn, void (*f)(const char *, size_t))
{
  char buf[4096];
  bio in;
  int r;

  bio_init(&in, fd, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&in, &line, '\n', MAXLINE);
    if (r == -1) die_read(fn);
    if (r == -2) die_long(fn);
    if (r == 1) --line.len;
    if (line.len || r == 1) f(line.s, line.len);
    if (r == 0) return;
  }
}

static int readmap(cmap *m, const char *fn, int colon)
{
  sa lines = SA_ZERO;
  int r = control_readfile(&lines, fn);
  if (r == -1) die_read(fn);
  if (r == 1 && !cmap_init(m, lines.s, lines.len, colon)) die_nomem();
  sa_free(&lines);
  return r;
}

/* append - copy users/append, if any, to the output */
static void append(void)
{
  char buf[4096];
  bio in;
  int fd, r;

  fd = open_read("users/append");
  if (fd == -1) {
    if (errno == ENOENT) return;
    die_read("users/append");
  }
  bio_init(&in, fd, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&in, &line, '\n', MAXLINE);
    if (r == -1) die_read("users/append");
    if (r == -2) die_long("users/append");
    put(line.s, line.len);
    if (r == 0) break;
  }
  /* a last line without a newline would swallow the final dot */
  if (line.len) put("\n", 1);
  close(fd);
}

int main(int argc, char **argv)
{
  int opt, fd;

  breakch = auto_break[0];
  while ((opt = getopt(argc, argv, "/ohHuUc:C")) != -1)
    switch (opt) {
      case '/': dashcolon = "-/:"; break;
      case 'o': homestrategy = 2; break;
      case 'h': homestrategy = 1; break;
      case 'H': homestrategy = 0; break;
      case 'u': flagnoupper = 0; break;
      case 'U': flagnoupper = 1; break;
      case 'c': breakch = optarg[0]; break;
      case 'C': breakch = 0; break;
      default: die(100, "usage: qmail-pw2u [ -/ohHuUC ] [ -cchar ]\n", NULL);
    }
  if (chdir(auto_home) == -1)
    die(111, FATAL, "unable to chdir to ", auto_home, ": ", say_errno(), "\n", NULL);
  okincl = readmap(&incl, "users/include", 0);
  okexcl = readmap(&excl, "users/exclude", 0);
  okmana = readmap(&mana, "users/mailnames", 1);

  eachline(0, "standard input", account);
  if (!flagalias) die(111, FATAL, "unable to find ", auto_usera, " user\n", NULL);

  fd = open_read("users/subusers");
  if (fd == -1) {
    if (errno != ENOENT) die_read("users/subusers");
  } else {
    if (!cmap_init(&users, allusers.s ? allusers.s : "", allusers.len, 1)) die_nomem();
    eachline(fd, "users/subusers", subuser);
    close(fd);
  }
  append();

  put(".\n", 2);
  if (!bio_flush(&out)) die_write();
  return 0;
}
