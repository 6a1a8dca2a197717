/* qmail-send-deliver - the delivery side of qmail-send.
 * Priority queues hold message ids by next attempt: pqchan[c] for
 * messages with a local/ (c 0) or remote/ (c 1) recipient list, pqnew[c]
 * for those fresh from todo/ (served in turn with pqchan[c], so new mail
 * does not wait behind a backlog of retries), pqdone for
 * messages with neither (ready to finish), pqfail for ids whose files
 * could not be examined. A pass reads one recipient list a window at a
 * time and starts deliveries from it, as many as the concurrency allows,
 * through the spawner on fds 1/2 (local) and 3/4 (remote). A delivery
 * takes one local recipient, or up to remotebatch remote recipients of
 * one domain (one SMTP transaction), and counts once against the
 * concurrency; every recipient still has its own delivery number, report,
 * mark, retry and bounce paragraph. A job is one pass over one list; it
 * stays while its deliveries run. A finished recipient is marked in
 * place: its T becomes D, and the marks are fsynced together, at most
 * MARK_DELAY ms later; a crash before that repeats those deliveries but
 * never loses one. The marks of a message that is not committed yet
 * (todo/id still there) need no fsync of their own: a crash preprocesses
 * the whole message again anyway, and its commit fsyncs the list. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "auto.h"
#include "bio.h"
#include "fd.h"
#include "grow.h"
#include "open.h"
#include "retry.h"
#include "rewrite.h"
#include "spawnproto.h"
#include "str.h"
#include "qmail-send.h"

prioq pqchan[CHANNELS], pqnew[CHANNELS], pqdone, pqfail;
static int takenew[CHANNELS];
int flagspawnalive[CHANNELS];

static const char *const chanaddr[CHANNELS] = { "local", "remote" };
static const char *const chanstatus[CHANNELS] = { " local ", " remote " };
static const char *const tochan[CHANNELS] = { " to local ", " to remote " };
static const int chanfdout[CHANNELS] = { 1, 3 };
static const int chanfdin[CHANNELS] = { 2, 4 };
static const unsigned long chanskip[CHANNELS] = { RETRY_SKIP_LOCAL, RETRY_SKIP_REMOTE };

/* ------------------------------------------------------------- INFO */

int getinfo(sa *sender, time_t *birth, unsigned long id)
{
  char buf[512];
  struct stat st;
  bio b;
  int fd, r;
  const memmsg *m = todo_mem(id);

  if (m) {
    if (!sa_copy(sender, &m->sender)) return 0;
    *birth = m->birth;
    return 1;
  }

  fd = open_read(fn("info", id));
  if (fd == -1) return 0;
  if (fstat(fd, &st) == -1) { close(fd); return 0; }
  bio_init(&b, fd, buf, sizeof buf);
  sender->len = 0;
  r = bio_getln(&b, sender, 0, RECORDMAX);
  close(fd);
  if (r != 1 || sender->s[0] != 'F') return 0;
  /* drop the F, keep the NUL */
  memmove(sender->s, sender->s + 1, sender->len - 1);
  --sender->len;
  *birth = st.st_mtime;
  return 1;
}

/* ------------------------------------------------------------- JOBS */

struct job {
  int used;
  unsigned long refs;
  unsigned long id;
  time_t retry;
  sa sender;            /* with a NUL */
  unsigned long numtodo;
  int hiteof;
  int dying;
};

/* one recipient of a delivery */
struct drcpt {
  unsigned long delid;
  off_t mpos;           /* of its T record */
  size_t off;           /* in recips */
  int done;             /* its report came */
};

struct del {
  int used;
  size_t j;
  size_t n;             /* recipients */
  size_t left;          /* reports still to come */
  struct drcpt *r;
  size_t ra;            /* room in r */
  sa recips;            /* the recipients, each with its NUL */
};

/* a T record read ahead by a pass */
struct ent {
  size_t off;           /* in the pool */
  size_t len;           /* without the NUL */
  size_t dom;           /* where its domain starts, in the pool */
  off_t mpos;
};

/* a run of entries that go out as one delivery */
struct grp {
  size_t first;         /* in ord */
  size_t n;
};

#define POOLMAX 10000       /* T records read ahead by a pass */
#define POOLBYTES 1048576   /* nor more bytes than this */
#define BATCHBYTES 131072   /* recipient bytes in one delivery */

struct pass {
  unsigned long id;     /* 0: no pass open */
  size_t j;
  int fd;               /* -1: reading from mem */
  const memmsg *mem;    /* the message not committed yet */
  int eof;              /* the list is read to its end */
  size_t cap;           /* recipients per delivery */
  off_t mpos;
  bio b;
  char buf[1024];
  sa pool;              /* the window: recipients read, each with its NUL */
  struct ent *ent;
  size_t nent, enta;
  size_t *ord, orda;    /* entries grouped by domain */
  struct grp *grp;
  size_t grpa;
  size_t ngrp, nextgrp;
};

static struct job *jo[CHANNELS];
static size_t numjobs[CHANNELS];
static struct del *d[CHANNELS];
static size_t *freeslot[CHANNELS];   /* stack of unused delivery slots */
static size_t numfree[CHANNELS];
static unsigned long slots[CHANNELS];
static unsigned long used[CHANNELS];
static struct pass pass[CHANNELS];
static sa comm[CHANNELS];
static size_t commpos[CHANNELS];
static spawnrd rd[CHANNELS];
static unsigned long masterdelid = 1;
static sa line = SA_ZERO;
static sa verp = SA_ZERO;

static void spawndied(int c)
{
  qlog("alert: oh no! lost spawn connection! dying...\n", NULL);
  flagspawnalive[c] = 0;
  flagexitasap = 1;
}

static long job_open(int c, unsigned long id)
{
  size_t j;
  for (j = 0; j < numjobs[c]; ++j) if (!jo[c][j].used) break;
  if (j == numjobs[c]) return -1;
  jo[c][j].used = 1;
  jo[c][j].refs = 1;
  jo[c][j].id = id;
  jo[c][j].numtodo = 0;
  jo[c][j].hiteof = 0;
  jo[c][j].dying = 0;
  return (long)j;
}

static void mark_drop(int c, unsigned long id);
static void pass_close(int c);

/* job_close - drop one reference; the last one decides what comes next */
static void job_close(int c, size_t j)
{
  struct job *job = &jo[c][j];
  prioq_elt pe;
  struct stat st;
  int other;

  if (--job->refs) return;
  job->used = 0;
  pe.id = job->id;
  pe.dt = job->retry;
  if (job->hiteof && !job->numtodo) {
    memmsg *m = todo_mem(job->id);
    if (m) {                          /* not committed: no file to remove */
      m->has[c] = 0;
      for (other = 0; other < CHANNELS; ++other) if (m->has[other]) return;
      pe.dt = time(0);
      while (!prioq_insert(&pqdone, &pe)) nomem();
      return;
    }
    mark_drop(c, job->id);
    if (unlink(fn(chanaddr[c], job->id)) == -1) {
      qlog("warning: unable to unlink ", fn(chanaddr[c], job->id), "; will try again later\n", NULL);
      pe.dt = time(0) + SLEEP_SYSFAIL;
    }
    else {
      for (other = 0; other < CHANNELS; ++other) {
        if (other == c) continue;
        if (stat(fn(chanaddr[other], job->id), &st) == 0) return;  /* still going there */
        if (errno != ENOENT) {
          qlog("warning: unable to stat ", fn(chanaddr[other], job->id), "\n", NULL);
          break;   /* messdone checks again */
        }
      }
      pe.dt = time(0);
      while (!prioq_insert(&pqdone, &pe)) nomem();
      return;
    }
  }
  while (!prioq_insert(&pqchan[c], &pe)) nomem();
}

/* ------------------------------------------------------- DELIVERIES */

void del_init(const unsigned long limit[CHANNELS])
{
  static const size_t max[3] = { 20, 20, REPORTMAX };
  int c;
  size_t i;

  for (c = 0; c < CHANNELS; ++c) {
    slots[c] = limit[c] ? limit[c] : 1;
    if (concurrency[c] > limit[c]) concurrency[c] = limit[c];
    numjobs[c] = slots[c] + 1;
    while (!(jo[c] = calloc(numjobs[c], sizeof *jo[c]))) nomem();
    while (!(d[c] = calloc(slots[c], sizeof *d[c]))) nomem();
    while (!(freeslot[c] = calloc(slots[c], sizeof *freeslot[c]))) nomem();
    for (i = 0; i < slots[c]; ++i) freeslot[c][i] = slots[c] - 1 - i;
    numfree[c] = slots[c];
    used[c] = 0;
    flagspawnalive[c] = 1;
    pass[c].id = 0;
    spawnrd_init(&rd[c], 3, max);
    /* never block writing to a spawner: it may be blocked writing to us */
    if (fd_nonblock(chanfdout[c]) == -1) spawndied(c);
    fd_nonblock(chanfdin[c]);
  }
  del_status();
}

void del_status(void)
{
  char a[FMT_ULONG], b[FMT_ULONG], x[FMT_ULONG], y[FMT_ULONG];
  qlog("status:", chanstatus[0], ulstr(a, used[0]), "/", ulstr(b, concurrency[0]),
       chanstatus[1], ulstr(x, used[1]), "/", ulstr(y, concurrency[1]),
       flagexitasap ? " exitasap" : "", "\n", NULL);
}

int del_canexit(void)
{
  int c;
  for (c = 0; c < CHANNELS; ++c)
    if (flagspawnalive[c] && used[c]) return 0;   /* a dead one's jobs are lost anyway */
  return 1;
}

static int del_avail(int c)
{
  return flagspawnalive[c] && used[c] < concurrency[c] && numfree[c];
}

/* del_start - one delivery for the entries of group g of channel c's pass */
static void del_start(int c, const struct grp *g)
{
  char num[FMT_ULONG], num2[FMT_ULONG], messfn[2 * FMT_ULONG + 2];
  struct pass *p = &pass[c];
  struct del *x;
  size_t i, k, n;
  unsigned long id = p->id;

  i = freeslot[c][--numfree[c]];
  x = &d[c][i];
  {
    struct drcpt *r;
    while (!(r = grow(x->r, &x->ra, g->n, sizeof *r))) nomem();
    x->r = r;
  }
  x->recips.len = 0;
  for (k = 0; k < g->n; ++k) {
    const struct ent *e = &p->ent[p->ord[g->first + k]];
    x->r[k].delid = masterdelid++;
    x->r[k].mpos = e->mpos;
    x->r[k].off = x->recips.len;
    x->r[k].done = 0;
    while (!sa_catb(&x->recips, p->pool.s + e->off, e->len + 1)) nomem();
  }
  x->n = x->left = g->n;
  x->j = p->j;
  ++jo[c][p->j].refs;
  x->used = 1;
  ++used[c];
  n = fmt_ulong(messfn, id % auto_split);
  messfn[n++] = '/';
  n += fmt_ulong(messfn + n, id);
  messfn[n] = 0;
  /* a VERP sender makes the pass take one recipient a delivery */
  while (!rewrite_verp(&verp, jo[c][p->j].sender.s, x->recips.s)) nomem();
  while (!spawnproto_cmd(&comm[c], i, messfn, verp.s ? verp.s : "", verp.len,
                         x->recips.s, x->recips.len, g->n)) nomem();
  for (k = 0; k < g->n; ++k)
    qlog("starting delivery ", ulstr(num, x->r[k].delid), ": msg ", ulstr(num2, id), tochan[c],
         LOGSAFE, x->recips.s + x->r[k].off, "\n", NULL);
  del_status();
}

/* markdone - turn the T at pos into D. The marks are fsynced together
 * by mark_flush, MARK_DELAY ms after the first of them at the latest; a
 * crash before that repeats those deliveries, never loses them. */
#define MARKMAX 256
#define MARK_DELAY 50        /* ms */
static int markfd[MARKMAX];
static unsigned long markid[MARKMAX];
static int markchan[MARKMAX];
static size_t nummarks;
static long marktime;        /* when the first unflushed mark was made */

/* mark_flush - fsync the marks: all with force, else only when due */
static void mark_flush(int force)
{
  size_t i;
  if (!nummarks) return;
  if (!force && nummarks < MARKMAX && msnow() - marktime < MARK_DELAY) return;
  for (i = 0; i < nummarks; ++i) {
    /* not committed: todo/id still holds the message, see the top */
    if (fsync(markfd[i]) == -1)
      qlog("warning: trouble marking ", fn(chanaddr[markchan[i]], markid[i]),
           "; message will be delivered twice!\n", NULL);
    close(markfd[i]);
  }
  nummarks = 0;
}

/* mark_drop - the list of id on channel c is about to go: its marks need
 * no fsync any more */
static void mark_drop(int c, unsigned long id)
{
  size_t i;
  for (i = 0; i < nummarks; ++i)
    if (markid[i] == id && markchan[i] == c) {
      close(markfd[i]);
      --nummarks;
      markfd[i] = markfd[nummarks];
      markid[i] = markid[nummarks];
      markchan[i] = markchan[nummarks];
      return;
    }
}

void del_timeout(long *ms)
{
  long left;
  if (!nummarks) return;
  left = marktime + MARK_DELAY - msnow();
  if (left < 0) left = 0;
  if (left < *ms) *ms = left;
}

void del_exit(void)
{
  mark_flush(1);
}

/* del_committed - id now lives in its files: a pass reading it from
 * memory goes on in the file, at the same place */
void del_committed(unsigned long id)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) {
    struct pass *p = &pass[c];
    if (!p->id || p->id != id || p->fd != -1) continue;
    p->mem = 0;
    p->fd = open_read(fn(chanaddr[c], id));
    if (p->fd != -1 && lseek(p->fd, p->mpos, SEEK_SET) == -1) { close(p->fd); p->fd = -1; }
    if (p->fd == -1) {
      /* the pass ends here; the rest waits for the retry */
      qlog("warning: trouble reading ", fn(chanaddr[c], id), "; will try again later\n", NULL);
      p->eof = 0;
      p->nextgrp = p->ngrp;
      pass_close(c);
      continue;
    }
    bio_init(&p->b, p->fd, p->buf, sizeof p->buf);
  }
}

static void markdone(int c, unsigned long id, off_t pos)
{
  size_t i;
  int fd;
  memmsg *m = todo_mem(id);

  /* not committed: the mark goes into memory, and into the file with it */
  if (m) {
    if (pos >= 0 && (size_t)pos < m->list[c].len) m->list[c].s[pos] = 'D';
    return;
  }  /* the recipients of one delivery share a file: one open, one fsync */
  for (i = nummarks; i-- > 0;)
    if (markid[i] == id && markchan[i] == c) {
      if (pwrite(markfd[i], "D", 1, pos) == 1) return;
      qlog("warning: trouble marking ", fn(chanaddr[c], id), "; message will be delivered twice!\n", NULL);
      return;
    }
  if (nummarks == MARKMAX) mark_flush(1);
  fd = open(fn(chanaddr[c], id), O_WRONLY | O_CLOEXEC);
  if (fd != -1) {
    if (pwrite(fd, "D", 1, pos) == 1) {
      if (!nummarks) marktime = msnow();
      markfd[nummarks] = fd;
      markid[nummarks] = id;
      markchan[nummarks++] = c;
      return;
    }
    close(fd);
  }
  qlog("warning: trouble marking ", fn(chanaddr[c], id), "; message will be delivered twice!\n", NULL);
}

static const char toolong[] = "I'm not going to try again; this message has been in the queue too long.\n";

static void del_report(int c)
{
  char num[FMT_ULONG];
  unsigned long n, k;
  struct del *x;
  struct drcpt *r;
  struct job *job;
  sa *rep = &rd[c].f[2];
  const char *recip;
  size_t len;
  memmsg *m;

  if (rd[c].nomem || !spawnproto_num(&rd[c].f[0], &n) || n >= slots[c] || !d[c][n].used
      || !spawnproto_num(&rd[c].f[1], &k) || k >= d[c][n].n || d[c][n].r[k].done) {
    qlog("warning: internal error: delivery report out of range\n", NULL);
    return;
  }
  x = &d[c][n];
  r = &x->r[k];
  r->done = 1;
  recip = x->recips.s + r->off;
  job = &jo[c][x->j];
  ulstr(num, r->delid);
  len = rep->len - 1;
  if (len && rep->s[0] == 'Z' && job->dying) {
    /* past queuelifetime a temporary failure counts as permanent */
    rep->s[0] = 'D';
    rep->len = len;
    while (!sa_cats(rep, toolong) || !sa_0(rep)) nomem();
    len = rep->len - 1;
  }
  switch (len ? rep->s[0] : 0) {
    case 'K':
      qlog("delivery ", num, ": success: ", LOGSAFE, rep->s + 1, "\n", NULL);
      markdone(c, job->id, r->mpos);
      --job->numtodo;
      break;
    case 'Z':
      /* the message stays in the queue: into its files with it now */
      m = todo_mem(job->id);
      if (m) todo_commit(m);
      qlog("delivery ", num, ": deferral: ", LOGSAFE, rep->s + 1, "\n", NULL);
      break;
    case 'D':
      qlog("delivery ", num, ": failure: ", LOGSAFE, rep->s + 1, "\n", NULL);
      /* the bounce text is on disk before the mark */
      addbounce(job->id, recip, rep->s + 1, len - 1);
      markdone(c, job->id, r->mpos);
      --job->numtodo;
      break;
    default:
      qlog("delivery ", num, ": report mangled, will defer\n", NULL);
  }
  if (--x->left) return;
  /* the last report of the delivery frees its slot */
  job_close(c, x->j);
  x->used = 0;
  if (x->recips.a > 65536) sa_free(&x->recips);
  freeslot[c][numfree[c]++] = n;
  --used[c];
  del_status();
}

static void del_read(int c)
{
  char buf[4096];
  ssize_t r;
  size_t pos = 0;
  int done;

  r = read(chanfdin[c], buf, sizeof buf);
  if (r == -1) return;
  if (r == 0) { spawndied(c); return; }
  while (pos < (size_t)r) {
    pos += spawnrd_feed(&rd[c], buf + pos, (size_t)r - pos, &done);
    if (done) { del_report(c); spawnrd_reset(&rd[c]); }
  }
}

static void comm_do(int c)
{
  ssize_t w;
  if (commpos[c] >= comm[c].len) return;
  w = write(chanfdout[c], comm[c].s + commpos[c], comm[c].len - commpos[c]);
  if (w == -1) {
    if (errno == EPIPE) spawndied(c);
    return;
  }
  commpos[c] += (size_t)w;
  if (commpos[c] == comm[c].len) {
    commpos[c] = 0;
    comm[c].len = 0;
    if (comm[c].a > 65536) sa_free(&comm[c]);
  }
}

/* ------------------------------------------------------------ PASSES */

static const struct pass *sorting;   /* for the qsort comparators */

/* domcmp - the domains of entries x and y compared, ignoring ASCII case */
static int domcmp(const struct pass *p, size_t x, size_t y)
{
  const struct ent *e = &p->ent[x], *f = &p->ent[y];
  const unsigned char *s = (const unsigned char *)p->pool.s + e->dom;
  const unsigned char *t = (const unsigned char *)p->pool.s + f->dom;
  size_t m = e->off + e->len - e->dom, n = f->off + f->len - f->dom, i;

  for (i = 0; i < m && i < n; ++i) {
    unsigned char u = s[i], v = t[i];
    if (u >= 'A' && u <= 'Z') u += 32;
    if (v >= 'A' && v <= 'Z') v += 32;
    if (u != v) return u < v ? -1 : 1;
  }
  return m < n ? -1 : m > n;
}

/* bydomain - entries by domain, then in file order */
static int bydomain(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int r = domcmp(sorting, x, y);
  if (r) return r;
  return x < y ? -1 : x > y;
}

/* byfirst - groups in the order their first entry was read */
static int byfirst(const void *a, const void *b)
{
  size_t x = sorting->ord[((const struct grp *)a)->first];
  size_t y = sorting->ord[((const struct grp *)b)->first];
  return x < y ? -1 : x > y;
}

/* pass_group - split the window into deliveries: runs of one domain, at
 * most cap long, started in the order their first entry was read */
static void pass_group(int c)
{
  struct pass *p = &pass[c];
  size_t i, k, *o;
  struct grp *gr;

  while (!(o = grow(p->ord, &p->orda, p->nent, sizeof *o))) nomem();
  p->ord = o;
  while (!(gr = grow(p->grp, &p->grpa, p->nent, sizeof *gr))) nomem();
  p->grp = gr;
  for (i = 0; i < p->nent; ++i) p->ord[i] = i;
  p->ngrp = p->nextgrp = 0;
  if (p->cap <= 1) {
    for (i = 0; i < p->nent; ++i) { p->grp[i].first = i; p->grp[i].n = 1; }
    p->ngrp = p->nent;
    return;
  }
  sorting = p;
  qsort(p->ord, p->nent, sizeof *p->ord, bydomain);
  for (i = 0; i < p->nent; i = k) {
    size_t bytes = p->ent[p->ord[i]].len + 1;
    for (k = i + 1; k < p->nent && k - i < p->cap && !domcmp(p, p->ord[i], p->ord[k]); ++k) {
      /* the recipients become qmail-remote's arguments: stay far below ARG_MAX */
      bytes += p->ent[p->ord[k]].len + 1;
      if (bytes > BATCHBYTES) break;
    }
    p->grp[p->ngrp].first = i;
    p->grp[p->ngrp++].n = k - i;
  }
  qsort(p->grp, p->ngrp, sizeof *p->grp, byfirst);
}

/* pass_fill - read the next window of T records; 0 on trouble (logged) */
static int pass_fill(int c)
{
  struct pass *p = &pass[c];
  int r;

  p->pool.len = 0;
  p->nent = 0;
  while (p->nent < POOLMAX && p->pool.len < POOLBYTES) {
    line.len = 0;
    if (p->fd != -1) r = bio_getln(&p->b, &line, 0, RECORDMAX);
    else {
      const sa *l = &p->mem->list[c];
      size_t at = (size_t)p->mpos, k;
      r = 0;
      if (at < l->len) {
        k = byte_chr(l->s + at, l->len - at, 0);
        r = k < l->len - at ? 1 : -1;     /* a record ends in its NUL */
        if (r == 1) while (!sa_copyb(&line, l->s + at, k + 1)) nomem();
      }
    }
    if (r < 0) {
      qlog("warning: trouble reading ", fn(chanaddr[c], p->id), "; will try again later\n", NULL);
      return 0;
    }
    if (r == 0) { p->eof = 1; break; }
    if (line.s[0] == 'T') {
      struct ent *e;
      size_t at;
      while (!(e = grow(p->ent, &p->enta, p->nent + 1, sizeof *e))) nomem();
      p->ent = e;
      e = &p->ent[p->nent++];
      e->off = p->pool.len;
      e->len = line.len - 2;
      e->mpos = p->mpos;
      at = byte_rchr(line.s + 1, e->len, '@');
      e->dom = e->off + (at < e->len ? at + 1 : e->len);
      while (!sa_catb(&p->pool, line.s + 1, line.len - 1)) nomem();
      ++jo[c][p->j].numtodo;
    }
    else if (line.s[0] != 'D') {
      qlog("warning: unknown record type in ", fn(chanaddr[c], p->id), "!\n", NULL);
      return 0;
    }
    p->mpos += (off_t)line.len;
  }
  pass_group(c);
  return 1;
}

static void pass_close(int c)
{
  struct pass *p = &pass[c];
  if (p->fd != -1) close(p->fd);
  job_close(c, p->j);
  p->id = 0;
  p->nent = p->ngrp = p->nextgrp = 0;
  if (p->pool.a > POOLBYTES) sa_free(&p->pool);
}

/* pass_step - one step of channel c's pass; 1 when it got something done */
static int pass_step(int c)
{
  struct pass *p = &pass[c];
  prioq_elt pe;
  time_t birth;
  long j;
  int r;

  if (flagexitasap) return 0;
  if (!p->id) {
    prioq *src;
    int due = prioq_min(&pqchan[c], &pe) && pe.dt <= recent;
    int duenew = prioq_min(&pqnew[c], &pe) && pe.dt <= recent;
    if (!due && !duenew) return 0;
    if (!del_avail(c)) return 0;
    /* alternate between first attempts and retries when both wait */
    src = duenew && (!due || takenew[c]) ? &pqnew[c] : &pqchan[c];
    takenew[c] = src != &pqnew[c];
    prioq_min(src, &pe);
    prioq_delmin(src);
    p->mem = todo_mem(pe.id);
    p->fd = p->mem ? -1 : open_read(fn(chanaddr[c], pe.id));
    if (p->mem || p->fd != -1) {
      while (!(r = getinfo(&line, &birth, pe.id)) && errno == ENOMEM) nomem();
      if (!r && p->fd != -1) { close(p->fd); p->fd = -1; }
      if (!r) p->mem = 0;
    }
    if (!p->mem && p->fd == -1) {
      qlog("warning: trouble opening ", fn(chanaddr[c], pe.id), "; will try again later\n", NULL);
      pe.dt = recent + SLEEP_SYSFAIL;
      while (!prioq_insert(&pqchan[c], &pe)) nomem();
      return 1;
    }
    j = job_open(c, pe.id);
    if (j == -1) {                    /* cannot happen: one job per slot and one spare */
      if (p->fd != -1) close(p->fd);
      while (!prioq_insert(&pqchan[c], &pe)) nomem();
      return 0;
    }
    p->id = pe.id;
    p->j = (size_t)j;
    p->mpos = 0;
    p->eof = 0;
    p->nent = p->ngrp = p->nextgrp = 0;
    if (p->fd != -1) bio_init(&p->b, p->fd, p->buf, sizeof p->buf);
    jo[c][j].retry = retry_next(birth, recent, chanskip[c]);
    jo[c][j].dying = (unsigned long)(recent - birth) > lifetime && recent > birth;
    while (!sa_copy(&jo[c][j].sender, &line)) nomem();
    /* VERP gives each recipient its own sender: no sharing then */
    p->cap = c == 1 && !(line.len >= 5 && !memcmp(line.s + line.len - 5, "-@[]", 5)) ? remotebatch : 1;
  }
  if (!del_avail(c)) return 0;
  if (p->nextgrp < p->ngrp) {
    del_start(c, &p->grp[p->nextgrp++]);
    return 1;
  }
  if (p->eof) {                       /* the end of the list */
    jo[c][p->j].hiteof = 1;
    pass_close(c);
    return 1;
  }
  if (!pass_fill(c)) pass_close(c);
  return 1;
}

/* ------------------------------------------------- THE POLL LOOP SIDE */

void del_prep(struct pollfd *p, nfds_t *n, int *idx, time_t *wakeup)
{
  prioq_elt pe;
  int c;

  for (c = 0; c < CHANNELS; ++c) {
    idx[2 * c] = idx[2 * c + 1] = -1;
    if (!flagspawnalive[c]) continue;
    idx[2 * c] = (int)*n;
    p[*n].fd = chanfdin[c]; p[*n].events = POLLIN; p[*n].revents = 0; ++*n;
    if (commpos[c] < comm[c].len) {
      idx[2 * c + 1] = (int)*n;
      p[*n].fd = chanfdout[c]; p[*n].events = POLLOUT; p[*n].revents = 0; ++*n;
    }
    if (flagexitasap) continue;
    if (!del_avail(c)) continue;
    if (pass[c].id) { *wakeup = 0; continue; }
    if (prioq_min(&pqchan[c], &pe) && pe.dt < *wakeup) *wakeup = pe.dt;
    if (prioq_min(&pqnew[c], &pe) && pe.dt < *wakeup) *wakeup = pe.dt;
  }
  if (flagexitasap) return;
  if (prioq_min(&pqfail, &pe) && pe.dt < *wakeup) *wakeup = pe.dt;
  if (prioq_min(&pqdone, &pe) && pe.dt < *wakeup) *wakeup = pe.dt;
}

void del_do(const struct pollfd *p, const int *idx)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) {
    if (idx[2 * c + 1] != -1 && p[idx[2 * c + 1]].revents && flagspawnalive[c]) comm_do(c);
    if (idx[2 * c] != -1 && p[idx[2 * c]].revents && flagspawnalive[c]) del_read(c);
  }
  mark_flush(0);
  del_startall();
}

void del_startall(void)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) {
    while (pass_step(c)) ;
    if (flagspawnalive[c]) comm_do(c);   /* most commands fit the pipe at once */
  }
}

/* ------------------------------------------------------ PRIORITY QUEUES */

/* stale - remove what an earlier run left of id before its commit: the
 * message is preprocessed again from todo/ */
static void stale(unsigned long id)
{
  static const char *const dirs[] = { "info", "local", "remote", "bounce" };
  size_t i;
  for (i = 0; i < sizeof dirs / sizeof *dirs; ++i)
    if (unlink(fn(dirs[i], id)) == -1 && errno != ENOENT)
      qlog("warning: unable to unlink ", fn(dirs[i], id), "\n", NULL);
}

/* pq_add - put a message found in info/ where it belongs */
void pq_add(unsigned long id)
{
  prioq_elt pe, pechan[CHANNELS];
  int flag[CHANNELS], c, any = 0;
  struct stat st;
  const char *f;

  f = fn("info", id);
  if (stat(f, &st) == -1) {
    if (errno == ENOENT) return;      /* gone meanwhile */
    goto fail;
  }
  if ((st.st_mode & 07777) == INFO_FINAL) {
    /* committed by a run that had lost qmail-clean: the files are the
     * message, todo/ is what that run could not remove */
    if (!clean_do("todo", id)) goto fail;
  }
  f = fn("todo", id);
  if (stat(f, &st) == 0) {
    /* not committed when the last run ended: todo/ has it, and the
     * files are leftovers of a commit that did not finish */
    if (!todo_mem(id)) stale(id);
    return;
  }
  if (errno != ENOENT) goto fail;
  for (c = 0; c < CHANNELS; ++c) {
    f = fn(chanaddr[c], id);
    flag[c] = 0;
    if (stat(f, &st) == -1) { if (errno != ENOENT) goto fail; continue; }
    flag[c] = 1;
    any = 1;
    pechan[c].id = id;
    pechan[c].dt = st.st_mtime;      /* the next attempt, as pq_finish left it */
  }
  for (c = 0; c < CHANNELS; ++c)
    if (flag[c]) while (!prioq_insert(&pqchan[c], &pechan[c])) nomem();
  if (!any) {
    pe.id = id;
    pe.dt = time(0);
    while (!prioq_insert(&pqdone, &pe)) nomem();
  }
  return;
fail:
  qlog("warning: unable to stat ", f, "; will try again later\n", NULL);
  pe.id = id;
  pe.dt = time(0) + SLEEP_SYSFAIL;
  while (!prioq_insert(&pqfail, &pe)) nomem();
}

void pq_start(void)
{
  subdir s;
  unsigned long id;
  struct stat st;
  struct dirent *e;
  DIR *dir;

  subdir_init(&s, "info");
  while (subdir_next(&s, &id)) pq_add(id);
  /* bounce text of deliveries of a message that was never committed:
   * they are made again */
  while (!(dir = opendir("bounce"))) pausedir("bounce");
  while ((e = readdir(dir)))
    if (qfn_id(e->d_name, &id) && stat(fn("todo", id), &st) == 0 && stat(fn("info", id), &st) == -1
        && errno == ENOENT)
      stale(id);
  closedir(dir);
}

/* pq_finish - at exit, record each list's next attempt as its mtime */
void pq_finish(void)
{
  prioq_elt pe;
  struct utimbuf ut;
  int c;

  for (c = 0; c < CHANNELS; ++c)
    while (prioq_min(&pqchan[c], &pe)) {
      prioq_delmin(&pqchan[c]);
      ut.actime = ut.modtime = pe.dt;
      if (utime(fn(chanaddr[c], pe.id), &ut) == -1)
        qlog("warning: unable to utime ", fn(chanaddr[c], pe.id), "; message will be retried too soon\n", NULL);
    }
}

void pq_run(void)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) prioq_setall(&pqchan[c], recent);
}

/* messdone - every recipient is done: bounce if needed, then remove */
static void messdone(unsigned long id)
{
  prioq_elt pe;
  struct stat st;
  int c;
  memmsg *m = todo_mem(id);

  if (m) {
    /* not committed: no files but todo/ and the message */
    for (c = 0; c < CHANNELS; ++c) if (m->has[c]) return;
    if (!injectbounce(id)) goto fail;
    /* the bounce is queued before todo/ goes: a crash before this point
     * preprocesses the message again, never forgets the bounce */
    if (!todo_release(m)) goto fail;
    {
      char num[FMT_ULONG];
      qlog("end msg ", ulstr(num, id), "\n", NULL);
    }
    return;
  }
  for (c = 0; c < CHANNELS; ++c) {
    if (stat(fn(chanaddr[c], id), &st) == 0) return;   /* still in progress */
    if (errno != ENOENT) {
      qlog("warning: unable to stat ", fn(chanaddr[c], id), "; will try again later\n", NULL);
      goto fail;
    }
  }
  if (stat(fn("todo", id), &st) == 0) return;
  if (errno != ENOENT) {
    qlog("warning: unable to stat ", fn("todo", id), "; will try again later\n", NULL);
    goto fail;
  }
  if (stat(fn("info", id), &st) == -1) {
    if (errno == ENOENT) return;
    qlog("warning: unable to stat ", fn("info", id), "; will try again later\n", NULL);
    goto fail;
  }
  if (!injectbounce(id)) goto fail;   /* it logged why */
  {
    char num[FMT_ULONG];
    qlog("end msg ", ulstr(num, id), "\n", NULL);
  }
  if (unlink(fn("info", id)) == -1) {
    qlog("warning: unable to unlink ", fn("info", id), "; will try again later\n", NULL);
    goto fail;
  }
  /* info is gone: from here the message is only garbage for qmail-clean */
  clean_do("foop", id);   /* else the scan of mess/ finds it */
  return;
fail:
  pe.id = id;
  pe.dt = time(0) + SLEEP_SYSFAIL;
  while (!prioq_insert(&pqdone, &pe)) nomem();
}

/* pq_do - retry failed stats and finish messages, a bounded number a turn */
void pq_do(void)
{
  prioq_elt pe;
  int k;

  if (flagexitasap) return;
  for (k = 0; k < 64 && prioq_min(&pqfail, &pe) && pe.dt <= recent; ++k) {
    prioq_delmin(&pqfail);
    pq_add(pe.id);
  }
  for (k = 0; k < 64 && prioq_min(&pqdone, &pe) && pe.dt <= recent; ++k) {
    prioq_delmin(&pqdone);
    messdone(pe.id);
    if (flagexitasap) return;
  }
}
