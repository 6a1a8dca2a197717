#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "bio.h"
#include "open.h"
#include "sa.h"
#include "scan.h"
#include "str.h"

#include "getpw.h"
#include "pwfiles.h"

const char *pwfiles_nsswitch = "/etc/nsswitch.conf";
const char *pwfiles_passwd = "/etc/passwd";

/* what nsswitch.conf makes of an answer from the files */
#define UNREAD 0
#define NEVER 1         /* it is not getpwnam's answer */
#define FOUND 2         /* an entry found is; a name not found may be elsewhere */
#define ALWAYS 3        /* files is the only source: both are */
static int order = UNREAD;
static const char *orderof;     /* the file order was read from */

#define LINEMAX 4096    /* longer lines: cannot tell */

static int space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* sources - the order a passwd line's sources s[0..n) give */
static int sources(const char *s, size_t n)
{
  size_t i = 0, j, words = 0;
  int first = 0;

  for (;;) {
    while (i < n && space(s[i])) ++i;
    if (i == n) break;
    for (j = i; j < n && !space(s[j]); ++j) {}
    if (s[i] == '[') return NEVER;
    if (!words++) first = j - i == 5 && !memcmp(s + i, "files", 5);
    i = j;
  }
  if (!first) return NEVER;
  return words == 1 ? ALWAYS : FOUND;
}

/* readorder - the passwd line of nsswitch.conf; one such line, or NEVER */
static int readorder(void)
{
  char buf[1024];
  sa line = SA_ZERO;
  bio b;
  int fd, r, seen = 0, o = NEVER;
  size_t i, n;

  fd = open_read(pwfiles_nsswitch);
  if (fd == -1) return NEVER;
  bio_init(&b, fd, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&b, &line, '\n', LINEMAX);
    if (r < 0) { o = NEVER; seen = 2; break; }
    if (!line.len) break;
    n = byte_chr(line.s, line.len, '#');
    for (i = 0; i < n && space(line.s[i]); ++i) {}
    if (n - i > 6 && !memcmp(line.s + i, "passwd", 6)) {
      for (i += 6; i < n && space(line.s[i]); ++i) {}
      if (i < n && line.s[i] == ':') {
        ++seen;
        o = sources(line.s + i + 1, n - i - 1);
      }
    }
    if (!r) break;
  }
  close(fd);
  sa_free(&line);
  return seen == 1 ? o : NEVER;
}

/* number - s[0..n) is a decimal number that fits */
static int number(const char *s, size_t n, unsigned long *u)
{
  return n && n < 11 && scan_ulongn(s, n, u) == n;
}

/* entry - the line s[0..n) (no newline) is name's: 1 with pw filled, 0
 * another name's, -2 name's (or perhaps name's) but not as plainly as
 * this reads it: fields are name:password:uid:gid:gecos:home:shell */
static int entry(const char *s, size_t n, const char *name, struct passwd *pw)
{
  static sa user = SA_ZERO, home = SA_ZERO;
  const char *f[7];
  size_t len[7], pos = 0, k;
  unsigned long uid, gid;
  int i;

  /* NSS's reader skips leading blanks and knows +/- lines (compat) */
  if (n && (space(s[0]) || s[0] == '+' || s[0] == '-')) return -2;
  for (i = 0; i < 7; ++i) {
    k = byte_chr(s + pos, n - pos, ':');
    f[i] = s + pos;
    len[i] = k;
    pos += k;
    if (i < 6) {
      if (pos == n) break;
      ++pos;
    }
  }
  if (len[0] != strlen(name) || memcmp(f[0], name, len[0])) return 0;
  if (i < 7 || pos != n) return -2;         /* not seven fields */
  if (!number(f[2], len[2], &uid) || !number(f[3], len[3], &gid)) return -2;
  if (!sa_copyb(&user, f[0], len[0]) || !sa_0(&user)) return -2;
  if (!sa_copyb(&home, f[5], len[5]) || !sa_0(&home)) return -2;
  memset(pw, 0, sizeof *pw);
  pw->pw_name = user.s;
  pw->pw_dir = home.s;
  pw->pw_uid = (uid_t)uid;
  pw->pw_gid = (gid_t)gid;
  return 1;
}

/* files - name's entry in the passwd file, as a getpw_source */
static int files(const char *name, struct passwd **out, getpw_why *w)
{
  static struct passwd pw;
  static sa line = SA_ZERO;
  char buf[4096];
  bio b;
  int fd, r, e;

  (void)w;
  if (order == UNREAD || orderof != pwfiles_nsswitch) {
    order = readorder();
    orderof = pwfiles_nsswitch;
  }
  if (order == NEVER) return -2;
  fd = open_read(pwfiles_passwd);
  if (fd == -1) return -2;
  bio_init(&b, fd, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&b, &line, '\n', LINEMAX);
    if (r < 0) { e = -2; break; }
    if (line.len && (e = entry(line.s, line.len - (r == 1), name, &pw))) break;
    /* the end, and name is not there */
    if (!r) { e = order == ALWAYS ? 0 : -2; break; }
  }
  close(fd);
  if (e == 1) *out = &pw;
  return e;
}

int pwfiles_answer(sa *out, const char *local, size_t len, getpw_why *w)
{
  return getpw_answer_from(out, local, len, w, files);
}
