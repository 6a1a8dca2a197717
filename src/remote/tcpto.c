#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "tcpto.h"
#include "lock.h"
#include "open.h"

#define SLOTS (TCPTO_SIZE / 16)
#define V6HEAD '6'
#define V6TAIL '7'

static unsigned long get32(const unsigned char *p)
{
  return (unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) | ((unsigned long)p[3] << 24);
}

static void put32(unsigned char *p, unsigned long u)
{
  p[0] = (unsigned char)u; p[1] = (unsigned char)(u >> 8);
  p[2] = (unsigned char)(u >> 16); p[3] = (unsigned char)(u >> 24);
}

size_t tcpto_parse(const unsigned char *buf, size_t len, struct tcpto_entry *e, size_t max)
{
  size_t slots = len / 16, i, n = 0;

  for (i = 0; i < slots && n < max; ++i) {
    const unsigned char *r = buf + i * 16;
    struct tcpto_entry *x = &e[n];
    memset(x, 0, sizeof *x);
    if (r[4]) {
      x->ip.af = AF_INET;
      memcpy(x->ip.a, r, 4);
      x->count = r[4];
      x->when = get32(r + 8);
      x->slot = i;
      x->nslots = 1;
      ++n;
    } else if (r[5] == V6HEAD && r[6] && !(i & 1) && i + 1 < slots && r[16 + 4] == 0 && r[16 + 5] == V6TAIL) {
      x->ip.af = AF_INET6;
      memcpy(x->ip.a, r, 4);
      memcpy(x->ip.a + 4, r + 12, 4);
      memcpy(x->ip.a + 8, r + 16, 4);
      memcpy(x->ip.a + 12, r + 28, 4);
      x->count = r[6];
      x->when = get32(r + 8);
      x->slot = i;
      x->nslots = 2;
      ++n;
      ++i;
    }
  }
  return n;
}

/* setrecord - write the slot (or slot pair, for IPv6) of ip at r */
static void setrecord(unsigned char *r, const struct ipaddr *ip, unsigned count, unsigned long when)
{
  if (ip->af == AF_INET6) {
    memset(r, 0, 32);
    memcpy(r, ip->a, 4);
    memcpy(r + 12, ip->a + 4, 4);
    memcpy(r + 16, ip->a + 8, 4);
    memcpy(r + 28, ip->a + 12, 4);
    r[5] = V6HEAD;
    r[6] = (unsigned char)count;
    put32(r + 8, when);
    r[16 + 5] = V6TAIL;
    put32(r + 16 + 8, when);
  } else {
    memset(r, 0, 16);
    memcpy(r, ip->a, 4);
    r[4] = (unsigned char)count;
    put32(r + 8, when);
  }
}

long tcpto_update(unsigned char *buf, size_t len, const struct ipaddr *ip, int flagerr, unsigned long now, size_t *nslots)
{
  struct tcpto_entry e[SLOTS];
  unsigned long score[SLOTS], best = 0, s;
  size_t slots = len / 16, n, i, k, need, pos = SLOTS;

  if (slots > SLOTS) slots = SLOTS;
  n = tcpto_parse(buf, slots * 16, e, SLOTS);
  for (k = 0; k < n; ++k) {
    if (!ipaddr_equal(&e[k].ip, ip)) continue;
    if (!flagerr) e[k].count = 0;
    else {
      if (now < e[k].when + 120) return -1;  /* one timeout per two minutes */
      if (++e[k].count > 10) e[k].count = 10;
      e[k].when = now;
    }
    setrecord(buf + e[k].slot * 16, ip, e[k].count, e[k].when);
    *nslots = e[k].nslots;
    return (long)e[k].slot;
  }
  if (!flagerr) return -1;

  /* a new entry: a free place, else the one whose entries are oldest, as
   * qmail does (time plus 1024 seconds per recent timeout) */
  for (i = 0; i < SLOTS; ++i) score[i] = 0;
  for (k = 0; k < n; ++k) {
    s = e[k].when + ((unsigned long)e[k].count << 10) + 1;
    for (i = 0; i < e[k].nslots; ++i) score[e[k].slot + i] = s;
  }
  need = ip->af == AF_INET6 ? 2 : 1;
  for (i = 0; i + need <= slots; i += need) {
    s = score[i];
    if (need == 2 && score[i + 1] > s) s = score[i + 1];
    if (pos == SLOTS || s < best) { pos = i; best = s; }
  }
  if (pos == SLOTS) return -1;
  setrecord(buf + pos * 16, ip, 1, now);
  *nslots = need;
  return (long)pos;
}

/* readtable - open and lock the table; returns the locked write fd */
static int readtable(unsigned char *buf, size_t *len)
{
  int fd = open(TCPTO_FILE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ssize_t r;

  if (fd == -1) return -1;
  if (lock_ex(fd) == -1) { close(fd); return -1; }
  do r = pread(fd, buf, TCPTO_SIZE, 0); while (r == -1 && errno == EINTR);
  if (r < 0) { close(fd); return -1; }
  *len = (size_t)r;
  return fd;
}

int tcpto_skip(const struct ipaddr *ip)
{
  unsigned char buf[TCPTO_SIZE];
  struct tcpto_entry e[SLOTS];
  size_t len, n, k;
  unsigned long now = (unsigned long)time(0);
  int fd = readtable(buf, &len);

  if (fd == -1) return 0;
  close(fd);
  n = tcpto_parse(buf, len, e, SLOTS);
  for (k = 0; k < n; ++k)
    if (ipaddr_equal(&e[k].ip, ip)) {
      if (e[k].count < 2) return 0;
      return now - e[k].when < ((60UL + ((unsigned long)getpid() & 31)) << 6);
    }
  return 0;
}

void tcpto_err(const struct ipaddr *ip, int flagerr)
{
  unsigned char buf[TCPTO_SIZE];
  size_t len, n;
  long slot;
  int fd = readtable(buf, &len);

  if (fd == -1) return;
  slot = tcpto_update(buf, len, ip, flagerr, (unsigned long)time(0), &n);
  if (slot >= 0 && (size_t)slot * 16 + n * 16 <= len) {
    ssize_t w;
    do w = pwrite(fd, buf + slot * 16, n * 16, slot * 16); while (w == -1 && errno == EINTR);
  }
  close(fd);
}
