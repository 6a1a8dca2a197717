/* qlist-cookie - confirmation cookies: "A.TIME.MAC", where A is the action
 * (s subscribe, u unsubscribe), TIME the decimal Unix time it was made and
 * MAC the first 12 bytes, in lowercase hex, of HMAC-SHA-256 under the
 * list's secret key of "A TIME list addr" (list and addr in lowercase, so
 * that a mail system that folds the case of the confirmation address does
 * not break it). The key is 32 random bytes in .qlist-NAME.key, mode 600,
 * made on first use. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "qlist.h"
#include "bio.h"
#include "fmt.h"
#include "open.h"
#include "scan.h"
#include "sha256.h"
#include "str.h"
#include "syncdir.h"

#define KEYLEN 32
#define MACLEN 12

static unsigned char key[KEYLEN];
static int havekey;

/* keyname - fn = .qlist-NAME.key, or with the suffix for the new one */
static void keyname(sa *fn, const char *name, const char *suffix)
{
  if (!sa_copys(fn, ".qlist-") || !sa_cats(fn, name) || !sa_cats(fn, ".key")
      || !sa_cats(fn, suffix) || !sa_0(fn)) ql_nomem();
}

/* readkey - 1 with the key loaded from fn, 0 when fn does not exist */
static int readkey(const char *fn)
{
  ssize_t r;
  int fd = open_read(fn);

  if (fd == -1) {
    if (errno == ENOENT) return 0;
    ql_temp("open", fn);
  }
  r = bio_rawread(fd, (char *)key, sizeof key, 0);
  close(fd);
  if (r == -1) ql_temp("read", fn);
  if (r != KEYLEN) { errno = EINVAL; ql_temp("use the short key in", fn); }
  return 1;
}

/* newkey - make the key: write it under a temporary name, fsync, then
 * link it into place, so that two qlists at once agree on one key */
static void newkey(const char *fn, const char *name)
{
  sa tmp = SA_ZERO;
  char num[FMT_ULONG];
  size_t got = 0;
  int fd;

  while (got < KEYLEN) {
    ssize_t r = getrandom(key + got, KEYLEN - got, 0);
    if (r == -1) { if (errno == EINTR) continue; ql_temp("get random bytes for", fn); }
    got += (size_t)r;
  }
  num[fmt_ulong(num, (unsigned long)getpid())] = 0;
  keyname(&tmp, name, ".");
  tmp.len--;
  if (!sa_cats(&tmp, num) || !sa_0(&tmp)) ql_nomem();
  unlink(tmp.s);
  fd = open_excl_mode(tmp.s, 0600);
  if (fd == -1) ql_temp("create", tmp.s);
  if (!bio_writeall(fd, (const char *)key, KEYLEN, 0) || fsync(fd) == -1 || close(fd) == -1) {
    unlink(tmp.s);
    ql_temp("write", tmp.s);
  }
  if (link(tmp.s, fn) == -1) {
    int e = errno;
    unlink(tmp.s);
    errno = e;
    if (e != EEXIST) ql_temp("link", fn);
    if (!readkey(fn)) ql_temp("read", fn);   /* the other qlist's key wins */
  } else {
    unlink(tmp.s);
    if (syncdir(".") == -1) ql_temp("sync the directory of", fn);
  }
  sa_free(&tmp);
}

static void loadkey(const char *name)
{
  sa fn = SA_ZERO;
  if (havekey) return;
  keyname(&fn, name, "");
  if (!readkey(fn.s)) newkey(fn.s, name);
  havekey = 1;
  sa_free(&fn);
}

/* mac - out = the hex MAC for action, time string t, list and addr */
static void mac(char out[2 * MACLEN + 1], char action, const char *t, const char *list, const char *addr)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char d[SHA256_LEN];
  sa m = SA_ZERO;
  size_t i;

  if (!sa_append(&m, action) || !sa_append(&m, ' ') || !sa_cats(&m, t) || !sa_append(&m, ' ')
      || !sa_cats(&m, list) || !sa_append(&m, ' ') || !sa_cats(&m, addr)) ql_nomem();
  case_lowerb(m.s, m.len);
  hmac_sha256(key, sizeof key, m.s, m.len, d);
  for (i = 0; i < MACLEN; ++i) { out[2 * i] = hex[d[i] >> 4]; out[2 * i + 1] = hex[d[i] & 15]; }
  out[2 * MACLEN] = 0;
  sa_free(&m);
}

void cookie_make(sa *out, const char *name, char action, time_t now,
                 const char *list, const char *addr)
{
  char t[FMT_ULONG], m[2 * MACLEN + 1];

  loadkey(name);
  t[fmt_ulong(t, (unsigned long)now)] = 0;
  mac(m, action, t, list, addr);
  if (!sa_append(out, action) || !sa_append(out, '.') || !sa_cats(out, t)
      || !sa_append(out, '.') || !sa_cats(out, m)) ql_nomem();
}

int cookie_check(const char *c, size_t n, const char *name, char *action, time_t now,
                 const char *list, const char *addr)
{
  char t[FMT_ULONG], m[2 * MACLEN + 1];
  unsigned long when;
  size_t tl, i;
  unsigned diff = 0;

  if (n < 4 || (c[0] != 's' && c[0] != 'u') || c[1] != '.') return 0;
  for (tl = 0; 2 + tl < n && c[2 + tl] >= '0' && c[2 + tl] <= '9'; ++tl) ;
  if (!tl || tl >= sizeof t || c[2 + tl] != '.' || n - (3 + tl) != 2 * MACLEN) return 0;
  memcpy(t, c + 2, tl);
  t[tl] = 0;
  if (scan_ulong(t, &when) != tl) return 0;
  /* made in the future (beyond clock skew) or too long ago: stale */
  if ((time_t)when > now + 3600 || now - (time_t)when > QLIST_COOKIE_LIFE) return 0;
  loadkey(name);
  mac(m, c[0], t, list, addr);
  for (i = 0; i < 2 * MACLEN; ++i) {
    char x = c[3 + tl + i];
    if (x >= 'A' && x <= 'F') x = (char)(x - 'A' + 'a');
    diff |= (unsigned char)(x ^ m[i]);
  }
  if (diff) return 0;
  *action = c[0];
  return 1;
}
