/* qmail-matchup - pair up qmail-send's log lines (qmail-log(5)) and print
 * one line per finished message and one per finished delivery attempt, in
 * qmailanalog's matchup format (qmail-matchup(8)):
 *   m birth done bytes nk nz nd <sender> qp uid
 *   d result birth dstart ddone bytes <sender> chan.recip qp uid reason
 * Lines may carry a multilog "@TAI64N " stamp, a splogger "SEC.USEC " stamp
 * (alone, or after a syslog file's date, host and tag) or none. Memory holds only the messages and deliveries in flight (each
 * capped, each string capped); at end of input what is still in flight is
 * written to fd 5, when open, as log lines a later run can read first.
 * Untrusted input: any line may be overlong or binary; fields are cut to
 * fixed sizes and bytes that would break the output become '_'. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "bio.h"
#include "fmt.h"
#include "sa.h"
#include "say.h"
#include "scan.h"
#include "str.h"

#define FATAL "qmail-matchup: fatal: "
#define LINEMAX 16384       /* longer lines are cut; the rest is skipped */
#define FIELDMAX 1024       /* stored sender and recipient bytes */
#define FLIGHTMAX 1000000UL /* messages, and deliveries, held at once */

static noreturn void die_nomem(void) { die(111, FATAL, "out of memory\n", NULL); }
static noreturn void die_read(void) { die(111, FATAL, "unable to read input: ", say_errno(), "\n", NULL); }
static noreturn void die_write(void) { die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL); }

struct stamp { unsigned long sec, usec; };

/* a hash table node; the key is the message or delivery number */
struct node { struct node *next; unsigned long key; };

struct msg {
  struct node n;
  struct stamp birth;
  unsigned long bytes, qp, uid, nk, nz, nd;
  char *sender;
};

struct del {
  struct node n;
  struct stamp start;
  unsigned long msg;
  int remote;
  char *recip;
};

struct table { struct node **b; size_t size; size_t count; };

static struct table msgs, dels;
static int warned;
static char outbuf[BIO_SIZE];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);

/* hash - spread a number over a power-of-two table */
static size_t hash(unsigned long k, size_t size)
{
  k ^= k >> 17;
  k *= 0x9e3779b1UL;
  k ^= k >> 13;
  return (size_t)k & (size - 1);
}

/* table_grow - double the bucket array once it is as full as it is long */
static void table_grow(struct table *t)
{
  struct node **nb, *x, *next;
  size_t size, bytes, i, h;

  if (t->size && t->count < t->size) return;
  size = t->size ? t->size : 64;
  if (t->size && !size_mul(&size, size, 2)) return;
  if (!size_mul(&bytes, size, sizeof *nb)) return;
  nb = calloc(1, bytes);
  if (!nb) { if (t->size) return; die_nomem(); }
  for (i = 0; i < t->size; ++i)
    for (x = t->b[i]; x; x = next) {
      next = x->next;
      h = hash(x->key, size);
      x->next = nb[h];
      nb[h] = x;
    }
  free(t->b);
  t->b = nb;
  t->size = size;
}

static struct node *table_find(struct table *t, unsigned long key)
{
  struct node *x;
  if (!t->size) return 0;
  for (x = t->b[hash(key, t->size)]; x; x = x->next)
    if (x->key == key) return x;
  return 0;
}

/* table_take - unlink the node with key and return it, or 0 */
static struct node *table_take(struct table *t, unsigned long key)
{
  struct node **p, *x;
  if (!t->size) return 0;
  for (p = &t->b[hash(key, t->size)]; (x = *p); p = &x->next)
    if (x->key == key) { *p = x->next; --t->count; return x; }
  return 0;
}

/* table_room - 1 when one more node may be added */
static int table_room(struct table *t)
{
  if (t->count >= FLIGHTMAX) {
    if (!warned) say(2, "qmail-matchup: warning: too much in flight, ignoring new entries\n", NULL);
    warned = 1;
    return 0;
  }
  table_grow(t);
  return 1;
}

static void table_add(struct table *t, struct node *x)
{
  size_t h = hash(x->key, t->size);
  x->next = t->b[h];
  t->b[h] = x;
  ++t->count;
}

static void msg_free(struct msg *m) { if (m) { free(m->sender); free(m); } }
static void del_free(struct del *d) { if (d) { free(d->recip); free(d); } }

/* field - copy n bytes of an address or a reason, cut to max, with every
 * byte that could split the output line turned into '_' and, when lower,
 * ASCII letters lowered */
static char *field(const char *s, size_t n, size_t max, int lower)
{
  char *f;
  size_t i;
  unsigned char c;

  if (n > max) n = max;
  f = malloc(n + 1);
  if (!f) die_nomem();
  for (i = 0; i < n; ++i) {
    c = (unsigned char)s[i];
    if (c <= 32 || c >= 127) c = '_';
    else if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    f[i] = (char)c;
  }
  f[n] = 0;
  return f;
}

/* numfield - parse a decimal number that fills s[0..n) exactly */
static int numfield(const char *s, size_t n, unsigned long *u)
{
  return n && scan_ulongn(s, n, u) == n;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* stamp_parse - read a leading "@TAI64N " or "SEC.USEC " stamp; returns
 * the bytes it used (0 with a zero stamp when there is none), or -1 for a
 * splogger continuation ("SEC.USEC+") that carries no log line of its own */
static long stamp_parse(const char *s, size_t n, struct stamp *t)
{
  unsigned long long label = 0;
  unsigned long nano = 0;
  size_t i, k;
  int v;

  t->sec = t->usec = 0;
  if (n >= 26 && s[0] == '@' && s[25] == ' ') {
    for (i = 1; i < 25; ++i) {
      v = hexval(s[i]);
      if (v < 0) return 0;
      if (i <= 16) label = (label << 4) | (unsigned)v;
      else nano = (nano << 4) | (unsigned)v;
    }
    /* a TAI64 label is 2^62 + 10 + the Unix time (libtai's convention) */
    if (label > 4611686018427387914ULL) {
      label -= 4611686018427387914ULL;
      t->sec = label > (unsigned long)-1 ? (unsigned long)-1 : (unsigned long)label;
      t->usec = nano < 1000000000UL ? nano / 1000 : 0;
    }
    return 26;
  }
  i = scan_ulongn(s, n, &t->sec);
  if (!i) { t->sec = 0; return 0; }
  if (i < n && s[i] == '.') {
    for (k = 0, ++i; i < n && s[i] >= '0' && s[i] <= '9'; ++i, ++k)
      if (k < 6) t->usec = t->usec * 10 + (unsigned long)(s[i] - '0');
    for (; k < 6; ++k) t->usec *= 10;
    if (i < n && s[i] == '+') return -1;
  }
  if (i < n && s[i] == ' ') return (long)i + 1;
  t->sec = t->usec = 0;   /* a line that starts with a number but no stamp */
  return 0;
}

static void put(const char *s) { if (!bio_puts(&out, s)) die_write(); }
static void putn(const char *s, size_t n) { if (!bio_put(&out, s, n)) die_write(); }
static void putu(unsigned long u) { if (!bio_putulong(&out, u)) die_write(); }

static void putstamp(const struct stamp *t)
{
  char buf[FMT_ULONG];
  putu(t->sec);
  put(".");
  putn(buf, fmt_ulong0(buf, t->usec, 6));
}

/* find - first occurrence of the string pat in s[0..n), or n */
static size_t find(const char *s, size_t n, const char *pat)
{
  size_t m = strlen(pat), i;
  for (i = 0; i + m <= n; ++i)
    if (!memcmp(s + i, pat, m)) return i;
  return n;
}

/* "info msg M: bytes B from <S> qp Q uid U" */
static void do_info(const char *s, size_t n, const struct stamp *t)
{
  unsigned long id, bytes, qp, uid;
  size_t i, j, k, l;
  struct msg *m;

  i = find(s, n, ": bytes ");
  if (!numfield(s, i, &id) || i == n) return;
  s += i + 8; n -= i + 8;
  i = find(s, n, " from <");
  if (!numfield(s, i, &bytes) || i == n) return;
  s += i + 7; n -= i + 7;
  /* the sender may hold "> qp ", so the last one ends it */
  for (j = n, k = 0; k + 5 <= n; ++k)
    if (!memcmp(s + k, "> qp ", 5)) j = k;
  if (j == n) return;
  l = find(s + j + 5, n - j - 5, " uid ");
  if (!numfield(s + j + 5, l, &qp) || l == n - j - 5) return;
  if (!numfield(s + j + 5 + l + 5, n - j - 10 - l, &uid)) return;

  msg_free((struct msg *)(void *)table_take(&msgs, id));
  if (!table_room(&msgs)) return;
  m = malloc(sizeof *m);
  if (!m) die_nomem();
  m->n.key = id;
  m->birth = *t;
  m->bytes = bytes; m->qp = qp; m->uid = uid;
  m->nk = m->nz = m->nd = 0;
  m->sender = field(s, j, FIELDMAX, 1);
  table_add(&msgs, &m->n);
}

/* "starting delivery D: msg M to local|remote R" */
static void do_start(const char *s, size_t n, const struct stamp *t)
{
  unsigned long id, msg;
  size_t i;
  int remote;
  struct del *d;

  i = find(s, n, ": msg ");
  if (!numfield(s, i, &id) || i == n) return;
  s += i + 6; n -= i + 6;
  i = find(s, n, " to ");
  if (!numfield(s, i, &msg) || i == n) return;
  s += i + 4; n -= i + 4;
  if (n >= 6 && !memcmp(s, "local ", 6)) { remote = 0; s += 6; n -= 6; }
  else if (n >= 7 && !memcmp(s, "remote ", 7)) { remote = 1; s += 7; n -= 7; }
  else return;

  /* a number seen again means qmail-send restarted; the old one is lost */
  del_free((struct del *)(void *)table_take(&dels, id));
  if (!table_room(&dels)) return;
  d = malloc(sizeof *d);
  if (!d) die_nomem();
  d->n.key = id;
  d->start = *t;
  d->msg = msg;
  d->remote = remote;
  d->recip = field(s, n, FIELDMAX, 1);
  table_add(&dels, &d->n);
}

/* "delivery D: success|failure|deferral: text" or "report mangled" */
static void do_done(const char *s, size_t n, const struct stamp *t)
{
  unsigned long id;
  size_t i;
  char result;
  const char *why;
  size_t whylen;
  char *reason;
  struct del *d;
  struct msg *m;
  static const struct msg unknown;

  i = find(s, n, ": ");
  if (!numfield(s, i, &id) || i == n) return;
  s += i + 2; n -= i + 2;
  if (n >= 9 && !memcmp(s, "success: ", 9)) { result = 'k'; why = s + 9; whylen = n - 9; }
  else if (n >= 9 && !memcmp(s, "failure: ", 9)) { result = 'd'; why = s + 9; whylen = n - 9; }
  else if (n >= 10 && !memcmp(s, "deferral: ", 10)) { result = 'z'; why = s + 10; whylen = n - 10; }
  else if (n >= 14 && !memcmp(s, "report mangled", 14)) { result = 'z'; why = "report_mangled"; whylen = 14; }
  else return;

  d = (struct del *)(void *)table_take(&dels, id);
  if (!d) return;   /* its start is in an earlier log */
  m = (struct msg *)(void *)table_find(&msgs, d->msg);
  if (m) {
    if (result == 'k') ++m->nk;
    else if (result == 'd') ++m->nd;
    else ++m->nz;
  }
  reason = field(why, whylen, LINEMAX, 0);
  put("d ");
  putn(&result, 1);
  put(" ");
  putstamp(m ? &m->birth : &d->start);
  put(" ");
  putstamp(&d->start);
  put(" ");
  putstamp(t);
  put(" ");
  if (!m) m = (struct msg *)&unknown;
  putu(m->bytes);
  put(" <");
  put(m->sender ? m->sender : "?");
  put("> ");
  put(d->remote ? "remote." : "local.");
  put(d->recip);
  put(" ");
  putu(m->qp);
  put(" ");
  putu(m->uid);
  put(" ");
  put(reason);
  put("\n");
  free(reason);
  del_free(d);
}

/* "end msg M" */
static void do_end(const char *s, size_t n, const struct stamp *t)
{
  unsigned long id;
  struct msg *m;

  if (!numfield(s, n, &id)) return;
  m = (struct msg *)(void *)table_take(&msgs, id);
  if (!m) return;
  put("m ");
  putstamp(&m->birth);
  put(" ");
  putstamp(t);
  put(" ");
  putu(m->bytes); put(" ");
  putu(m->nk); put(" ");
  putu(m->nz); put(" ");
  putu(m->nd); put(" <");
  put(m->sender);
  put("> ");
  putu(m->qp); put(" ");
  putu(m->uid);
  put("\n");
  msg_free(m);
}

/* line - one log line: strip its stamp, hand it to the matching do_ function */
static void line(const char *s, size_t n)
{
  struct stamp t;
  long k;

  if (n && s[n - 1] == '\n') --n;
  /* blanks in front: a syslog file whose date, host and tag fields were
   * blanked by awk, as qmailanalog's instructions do it */
  while (n && (*s == ' ' || *s == '\t')) { ++s; --n; }
  k = stamp_parse(s, n, &t);
  if (k == 0) {
    /* a syslog file: "Nov 21 10:00:00 host qmail: STAMP text" (or an ISO
     * date in front): the splogger stamp follows the tag's ": " */
    size_t c, lim = n < 256 ? n : 256;
    for (c = 0; c + 1 < lim && (s[c] != ':' || s[c + 1] != ' '); ++c) ;
    if (c + 2 < n && s[c] == ':' && s[c + 1] == ' ') {
      struct stamp u;
      long j = stamp_parse(s + c + 2, n - c - 2, &u);
      if (j < 0) return;
      if (j > 0) { t = u; s += c + 2; n -= c + 2; k = j; }
    }
  }
  if (k < 0) return;
  s += k; n -= (size_t)k;
  if (n > 9 && !memcmp(s, "info msg ", 9)) do_info(s + 9, n - 9, &t);
  else if (n > 18 && !memcmp(s, "starting delivery ", 18)) do_start(s + 18, n - 18, &t);
  else if (n > 9 && !memcmp(s, "delivery ", 9)) do_done(s + 9, n - 9, &t);
  else if (n > 8 && !memcmp(s, "end msg ", 8)) do_end(s + 8, n - 8, &t);
}

/* pending - what is still in flight, as log lines, on fd 5 if open */
static void pending(void)
{
  char buf[BIO_SIZE];
  bio p = BIO_INIT(5, buf, sizeof buf);
  bio save;
  struct node *x;
  struct msg *m;
  struct del *d;
  size_t i;

  if (fcntl(5, F_GETFD) == -1) return;
  save = out;
  out = p;
  for (i = 0; i < msgs.size; ++i)
    for (x = msgs.b[i]; x; x = x->next) {
      m = (struct msg *)(void *)x;
      putstamp(&m->birth);
      put(" info msg "); putu(m->n.key);
      put(": bytes "); putu(m->bytes);
      put(" from <"); put(m->sender);
      put("> qp "); putu(m->qp);
      put(" uid "); putu(m->uid);
      put("\n");
    }
  for (i = 0; i < dels.size; ++i)
    for (x = dels.b[i]; x; x = x->next) {
      d = (struct del *)(void *)x;
      putstamp(&d->start);
      put(" starting delivery "); putu(d->n.key);
      put(": msg "); putu(d->msg);
      put(d->remote ? " to remote " : " to local ");
      put(d->recip);
      put("\n");
    }
  if (!bio_flush(&out)) die_write();
  out = save;
}

int main(int argc, char **argv)
{
  char inbuf[BIO_SIZE];
  bio in = BIO_INIT(0, inbuf, sizeof inbuf);
  sa ln = SA_ZERO;
  int r;

  (void)argv;
  if (argc > 1) die(100, "qmail-matchup: usage: qmail-matchup < log > matched 5> pending\n", NULL);
  for (;;) {
    ln.len = 0;
    r = bio_getln(&in, &ln, '\n', LINEMAX);
    if (r == -1) die_read();
    if (r == 0 && !ln.len) break;
    line(ln.s, ln.len);
    /* an overlong line: use its head, drop the rest */
    while (r == -2) {
      ln.len = 0;
      r = bio_getln(&in, &ln, '\n', LINEMAX);
      if (r == -1) die_read();
    }
    if (r == 0) break;
  }
  if (!bio_flush(&out)) die_write();
  pending();
  return 0;
}
