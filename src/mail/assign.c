#include <errno.h>
#include <unistd.h>

#include "bio.h"
#include "cdb.h"
#include "cdb_make.h"
#include "open.h"
#include "sa.h"
#include "scan.h"
#include "str.h"

#include "assign.h"

void assign_free(assign *a)
{
  sa_free(&a->user);
  sa_free(&a->home);
  sa_free(&a->dash);
  sa_free(&a->ext);
  a->uid = 0;
  a->gid = 0;
}

/* setstr - x = s[0..n) followed by a NUL that len does not count */
static int setstr(sa *x, const char *s, size_t n)
{
  if (!sa_copyb(x, s, n) || !sa_0(x)) return 0;
  --x->len;
  return 1;
}

/* number - s[0..n) is a nonempty decimal number that fits in *u */
static int number(const char *s, size_t n, unsigned long *u)
{
  if (!n || scan_ulongn(s, n, u) != n) return 0;
  return 1;
}

/* split - fill a from user NUL uid NUL gid NUL home NUL dash NUL ext, where
 * ext is followed by a NUL when final is set and by nothing otherwise.
 * 1 ok, 0 malformed (errno EPROTO, or EINVAL for a bad number), -1 nomem. */
static int split(assign *a, const char *s, size_t n, int final)
{
  size_t start[6], len[6], pos = 0, i, k;
  unsigned long u;

  for (k = 0; k < 5; ++k) {
    i = byte_chr(s + pos, n - pos, 0);
    if (i == n - pos) { errno = EPROTO; return 0; }
    start[k] = pos;
    len[k] = i;
    pos += i + 1;
  }
  start[5] = pos;
  len[5] = n - pos;
  if (final) {
    if (!len[5] || s[n - 1]) { errno = EPROTO; return 0; }
    --len[5];
  }
  if (byte_chr(s + start[5], len[5], 0) < len[5]) { errno = EPROTO; return 0; }

  if (!number(s + start[1], len[1], &u) || (unsigned long)(uid_t)u != u) { errno = EINVAL; return 0; }
  a->uid = (uid_t)u;
  if (!number(s + start[2], len[2], &u) || (unsigned long)(gid_t)u != u) { errno = EINVAL; return 0; }
  a->gid = (gid_t)u;
  if (!setstr(&a->user, s + start[0], len[0])) return -1;
  if (!setstr(&a->home, s + start[3], len[3])) return -1;
  if (!setstr(&a->dash, s + start[4], len[4])) return -1;
  if (!setstr(&a->ext, s + start[5], len[5])) return -1;
  return 1;
}

int assign_parse(assign *a, const char *s, size_t len)
{
  return split(a, s, len, 1);
}

/* fetch - read the data of the record c just found, append tail, parse */
static int fetch(assign *a, struct cdb *c, sa *data, const char *tail, size_t tlen)
{
  size_t dlen = cdb_datalen(c), want;
  int r;

  if (dlen > ASSIGN_MAXLINE) { errno = EPROTO; return -1; }
  if (!size_add(&want, dlen, tlen) || !sa_ready(data, want ? want : 1)) return -1;
  if (cdb_read(c, data->s, dlen, cdb_datapos(c)) == -1) return -1;
  data->len = dlen;
  if (!sa_catb(data, tail, tlen)) return -1;
  r = split(a, data->s, data->len, 0);
  if (r == 0) return -1; /* a record we cannot use: temporary, the admin fixes it */
  return r;
}

int assign_find(assign *a, int fd, const char *local, size_t len)
{
  struct cdb c;
  sa key = SA_ZERO, wild = SA_ZERO, data = SA_ZERO;
  size_t p;
  int r, havewild, e;
  char ch;

  if (byte_chr(local, len, 0) < len) return 0;
  /* "!" local NUL, lower-cased; its first p + 1 bytes are a prefix key */
  if (!sa_copyb(&key, "!", 1) || !sa_catb(&key, local, len) || !sa_0(&key)) return -1;
  case_lowerb(key.s, key.len);
  cdb_init(&c, fd);

  r = cdb_find(&c, key.s, key.len);
  if (r == 1) { r = fetch(a, &c, &data, "", 0); goto done; }
  if (r == -1) goto done;

  /* the empty key lists the last characters of the wildcard prefixes; a
   * cdb without it is still searched, trying every prefix */
  havewild = cdb_find(&c, "", 0);
  if (havewild == -1) { r = -1; goto done; }
  if (havewild) {
    if (cdb_datalen(&c) > ASSIGN_MAXLINE) { errno = EPROTO; r = -1; goto done; }
    if (!sa_ready(&wild, cdb_datalen(&c) + 1)) { r = -1; goto done; }
    if (cdb_read(&c, wild.s, cdb_datalen(&c), cdb_datapos(&c)) == -1) { r = -1; goto done; }
    wild.len = cdb_datalen(&c);
    /* netqmail's qmail-newu keeps the case of these characters */
    case_lowerb(wild.s, wild.len);
  }

  p = len + 1;
  while (p-- > 0) {
    if (p && havewild) {
      ch = key.s[p];
      if (byte_chr(wild.s, wild.len, ch) == wild.len) continue;
    }
    r = cdb_find(&c, key.s, p + 1);
    if (r == -1) goto done;
    if (r == 1) { r = fetch(a, &c, &data, local + p, len - p); goto done; }
  }
  r = 0;

done:
  e = errno;
  cdb_free(&c);
  sa_free(&key);
  sa_free(&wild);
  sa_free(&data);
  errno = e;
  return r;
}

int assign_lookup(assign *a, const char *local, size_t len)
{
  int fd, r, e;

  fd = open_read("users/cdb");
  if (fd == -1) return errno == ENOENT ? 0 : -1;
  r = assign_find(a, fd, local, len);
  e = errno;
  close(fd);
  errno = e;
  return r;
}

/* dotline - the final line: a dot, then nothing but blanks */
static int dotline(const char *s, size_t n)
{
  size_t i;
  if (!n || s[0] != '.') return 0;
  for (i = 1; i < n; ++i)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
  return 1;
}

/* entry - check one assign line (no newline) and add its record.
 * 1 added, 0 format error (*why set), -1 error. */
static int entry(struct cdb_make *cm, sa *line, sa *key, sa *data, sa *wild, const char **why)
{
  const char *s = line->s;
  size_t n = line->len, colon, pos, i, k, fstart[6], flen[6];
  unsigned long u;
  char ch;

  if (byte_chr(s, n, 0) < n) { *why = "line contains NUL"; return 0; }
  if (s[0] != '=' && s[0] != '+') { *why = "line does not begin with = or +"; return 0; }
  colon = 1 + byte_chr(s + 1, n - 1, ':');
  if (colon == n) { *why = "missing colon after the address"; return 0; }
  pos = colon + 1;
  for (k = 0; k < 6; ++k) {
    i = byte_chr(s + pos, n - pos, ':');
    if (i == n - pos) { *why = "fewer than seven colons"; return 0; }
    fstart[k] = pos;
    flen[k] = i;
    pos += i + 1;
  }
  if (!number(s + fstart[1], flen[1], &u) || (unsigned long)(uid_t)u != u) {
    *why = "uid is not a number"; return 0;
  }
  if (!number(s + fstart[2], flen[2], &u) || (unsigned long)(gid_t)u != u) {
    *why = "gid is not a number"; return 0;
  }

  if (!sa_copyb(key, "!", 1) || !sa_catb(key, s + 1, colon - 1)) return -1;
  if (s[0] == '=') { if (!sa_0(key)) return -1; }
  else if (colon > 1) {
    ch = s[colon - 1];
    case_lowerb(&ch, 1);
    if (byte_chr(wild->s ? wild->s : "", wild->len, ch) == wild->len)
      if (!sa_append(wild, ch)) return -1;
  }
  case_lowerb(key->s, key->len);

  /* user:uid:gid:home:dash:ext with its five colons turned into NULs;
   * anything after the seventh colon is ignored, as netqmail does */
  if (!sa_copyb(data, s + fstart[0], fstart[5] + flen[5] - fstart[0])) return -1;
  for (i = 0; i < data->len; ++i) if (data->s[i] == ':') data->s[i] = 0;

  if (cdb_make_add(cm, key->s, key->len, data->s, data->len) == -1) return -1;
  return 1;
}

int assign_make(int fdin, int fdout, unsigned long *lineno, const char **why)
{
  struct cdb_make cm;
  char buf[4096];
  bio in;
  sa line = SA_ZERO, key = SA_ZERO, data = SA_ZERO, wild = SA_ZERO;
  int r, ret = -1, e;

  *lineno = 0;
  *why = "";
  if (cdb_make_start(&cm, fdout) == -1) return -1;
  bio_init(&in, fdin, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&in, &line, '\n', ASSIGN_MAXLINE);
    if (r == -1) goto out;
    ++*lineno;
    if (r == -2) { *why = "line too long"; ret = 0; goto out; }
    if (line.len == 0) { *why = "missing final line with a single dot"; ret = 0; goto out; }
    if (line.s[0] == '.') {
      if (dotline(line.s, line.len)) break;
      *why = "text after the dot on the final line"; ret = 0; goto out;
    }
    if (r == 0) { *why = "last line has no newline and no final dot"; ret = 0; goto out; }
    --line.len;
    r = entry(&cm, &line, &key, &data, &wild, why);
    if (r != 1) { ret = r; goto out; }
  }
  if (cdb_make_add(&cm, "", 0, wild.s ? wild.s : "", wild.len) == -1) goto out;
  ret = cdb_make_finish(&cm) == -1 ? -1 : 1;
  goto done;

out:
  e = errno;
  cdb_make_finish(&cm); /* only to release its memory; the output is abandoned */
  errno = e;
done:
  e = errno;
  sa_free(&line);
  sa_free(&key);
  sa_free(&data);
  sa_free(&wild);
  errno = e;
  return ret;
}
