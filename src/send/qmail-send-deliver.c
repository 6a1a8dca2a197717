/* qmail-send-deliver - the delivery side of qmail-send: the two
 * channels, local (spawner on fds 1/2) and remote (fds 3/4), one struct
 * each. A pass takes a due message from the scheduler (sched_take),
 * reads its recipient list one window at a time and starts deliveries
 * from it, as many as the concurrency allows. A delivery takes one local
 * recipient, or up to remotebatch remote recipients of one domain (one
 * SMTP transaction), and counts once against the concurrency; every
 * recipient still has its own delivery number, report, mark (the mark
 * part), retry and bounce paragraph. A job is one pass over one list; it
 * stays while its deliveries run, and its last reference gives the
 * message back to the scheduler: to retry, or finished. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
  const todo_msg *mem;  /* the message not committed yet */
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

/* a channel: its spawner, its jobs, its delivery slots, its pass */
struct chan {
  int c;                /* 0 local, 1 remote */
  const char *status;   /* in the status line */
  const char *to;       /* in the starting delivery line */
  int fdout, fdin;      /* to and from the spawner */
  unsigned long skip;   /* of the retry schedule */
  int alive;            /* the spawner is there */
  unsigned long limit;  /* what the spawner can run, as it said */
  unsigned long slots;  /* that, at least 1 */
  unsigned long concurrency;
  unsigned long used;   /* deliveries in progress */
  struct job *jobs;
  size_t numjobs;
  struct del *dels;     /* slots of them */
  size_t *freeslot;     /* stack of unused delivery slots */
  size_t numfree;
  struct pass pass;
  sa comm;              /* commands not yet written to the spawner */
  size_t commpos;
  spawnrd rd;           /* the report being read */
  int idxin, idxout;    /* in the poll set, or -1 */
};

static struct chan chans[CHANNELS] = {
  { .c = 0, .status = " local ", .to = " to local ", .fdout = 1, .fdin = 2, .skip = RETRY_SKIP_LOCAL },
  { .c = 1, .status = " remote ", .to = " to remote ", .fdout = 3, .fdin = 4, .skip = RETRY_SKIP_REMOTE },
};
static unsigned long masterdelid = 1;
static sa line = SA_ZERO;
static sa verp = SA_ZERO;

static void spawndied(struct chan *ch)
{
  log_line("alert: oh no! lost spawn connection! dying...\n", NULL);
  ch->alive = 0;
  send_exit();
}

static long job_open(struct chan *ch, unsigned long id)
{
  struct job *job;
  size_t j;
  for (j = 0; j < ch->numjobs; ++j) if (!ch->jobs[j].used) break;
  if (j == ch->numjobs) return -1;
  job = &ch->jobs[j];
  job->used = 1;
  job->refs = 1;
  job->id = id;
  job->numtodo = 0;
  job->hiteof = 0;
  job->dying = 0;
  return (long)j;
}

static void pass_close(struct chan *ch);

/* job_close - drop one reference; the last one decides what comes next */
static void job_close(struct chan *ch, size_t j)
{
  struct job *job = &ch->jobs[j];
  char f[QFN_SIZE];
  struct stat st;
  time_t when;
  int other;

  if (--job->refs) return;
  job->used = 0;
  when = job->retry;
  if (job->hiteof && !job->numtodo) {
    todo_msg *m = todo_find(job->id);
    if (m) {                          /* not committed: no file to remove */
      if (todo_listdone(m, ch->c)) sched_finished(job->id, time(0));
      return;
    }
    mark_drop(ch->c, job->id);
    if (unlink(queue_fn(f, queue_chan(ch->c), job->id)) == -1) {
      log_line("warning: unable to unlink ", f, "; will try again later\n", NULL);
      when = time(0) + SLEEP_SYSFAIL;
    }
    else {
      for (other = 0; other < CHANNELS; ++other) {
        if (other == ch->c) continue;
        if (stat(queue_fn(f, queue_chan(other), job->id), &st) == 0) return;  /* still going there */
        if (errno != ENOENT) {
          log_line("warning: unable to stat ", f, "\n", NULL);
          break;   /* the scheduler checks again */
        }
      }
      sched_finished(job->id, time(0));
      return;
    }
  }
  sched_retry(ch->c, job->id, when);
}

/* ------------------------------------------------------- DELIVERIES */

void del_init(const unsigned long limit[CHANNELS])
{
  static const size_t max[3] = { 20, 20, REPORTMAX };
  size_t i;
  int c;

  for (c = 0; c < CHANNELS; ++c) {
    struct chan *ch = &chans[c];
    ch->limit = limit[c];
    ch->slots = limit[c] ? limit[c] : 1;
    ch->concurrency = send_ctl()->concurrency[c];
    if (ch->concurrency > limit[c]) ch->concurrency = limit[c];
    ch->numjobs = ch->slots + 1;
    while (!(ch->jobs = calloc(ch->numjobs, sizeof *ch->jobs))) log_nomem();
    while (!(ch->dels = calloc(ch->slots, sizeof *ch->dels))) log_nomem();
    while (!(ch->freeslot = calloc(ch->slots, sizeof *ch->freeslot))) log_nomem();
    for (i = 0; i < ch->slots; ++i) ch->freeslot[i] = ch->slots - 1 - i;
    ch->numfree = ch->slots;
    ch->used = 0;
    ch->alive = 1;
    ch->pass.id = 0;
    ch->idxin = ch->idxout = -1;
    spawnrd_init(&ch->rd, 3, max);
    /* never block writing to a spawner: it may be blocked writing to us */
    if (fd_nonblock(ch->fdout) == -1) spawndied(ch);
    fd_nonblock(ch->fdin);
  }
  del_status();
}

/* del_setconcurrency - new limits, capped by what each spawner can run */
void del_setconcurrency(const unsigned long conc[CHANNELS])
{
  int c;
  for (c = 0; c < CHANNELS; ++c)
    chans[c].concurrency = conc[c] < chans[c].limit ? conc[c] : chans[c].limit;
}

void del_status(void)
{
  char a[FMT_ULONG], b[FMT_ULONG], x[FMT_ULONG], y[FMT_ULONG];
  const struct chan *l = &chans[0], *r = &chans[1];
  log_line("status:", l->status, log_ul(a, l->used), "/", log_ul(b, l->concurrency),
           r->status, log_ul(x, r->used), "/", log_ul(y, r->concurrency),
           send_exiting() ? " exitasap" : "", "\n", NULL);
}

int del_canexit(void)
{
  int c;
  for (c = 0; c < CHANNELS; ++c)
    if (chans[c].alive && chans[c].used) return 0;   /* a dead one's jobs are lost anyway */
  return 1;
}

int del_idle(int c)
{
  const struct chan *ch = &chans[c];
  return ch->alive && !ch->used && !ch->pass.id;
}

static int del_avail(const struct chan *ch)
{
  return ch->alive && ch->used < ch->concurrency && ch->numfree;
}

/* del_start - one delivery for the entries of group g of the pass */
static void del_start(struct chan *ch, const struct grp *g)
{
  char num[FMT_ULONG], num2[FMT_ULONG], messfn[2 * FMT_ULONG + 2];
  struct pass *p = &ch->pass;
  struct job *job = &ch->jobs[p->j];
  struct del *x;
  size_t i, k, n;
  unsigned long id = p->id;

  i = ch->freeslot[--ch->numfree];
  x = &ch->dels[i];
  {
    struct drcpt *r;
    while (!(r = grow(x->r, &x->ra, g->n, sizeof *r))) log_nomem();
    x->r = r;
  }
  x->recips.len = 0;
  for (k = 0; k < g->n; ++k) {
    const struct ent *e = &p->ent[p->ord[g->first + k]];
    x->r[k].delid = masterdelid++;
    x->r[k].mpos = e->mpos;
    x->r[k].off = x->recips.len;
    x->r[k].done = 0;
    while (!sa_catb(&x->recips, p->pool.s + e->off, e->len + 1)) log_nomem();
  }
  x->n = x->left = g->n;
  x->j = p->j;
  ++job->refs;
  x->used = 1;
  ++ch->used;
  n = fmt_ulong(messfn, id % auto_split);
  messfn[n++] = '/';
  n += fmt_ulong(messfn + n, id);
  messfn[n] = 0;
  /* a VERP sender makes the pass take one recipient a delivery */
  while (!rewrite_verp(&verp, job->sender.s, x->recips.s)) log_nomem();
  while (!spawnproto_cmd(&ch->comm, i, messfn, verp.s ? verp.s : "", verp.len,
                         x->recips.s, x->recips.len, g->n)) log_nomem();
  for (k = 0; k < g->n; ++k)
    log_line("starting delivery ", log_ul(num, x->r[k].delid), ": msg ", log_ul(num2, id), ch->to,
             LOG_SAFE, x->recips.s + x->r[k].off, "\n", NULL);
  del_status();
}

/* del_committed - id now lives in its files: a pass reading it from
 * memory goes on in the file, at the same place */
void del_committed(unsigned long id)
{
  char f[QFN_SIZE];
  int c;
  for (c = 0; c < CHANNELS; ++c) {
    struct chan *ch = &chans[c];
    struct pass *p = &ch->pass;
    if (!p->id || p->id != id || p->fd != -1) continue;
    p->mem = 0;
    p->fd = open_read(queue_fn(f, queue_chan(c), id));
    if (p->fd != -1 && lseek(p->fd, p->mpos, SEEK_SET) == -1) { close(p->fd); p->fd = -1; }
    if (p->fd == -1) {
      /* the pass ends here; the rest waits for the retry */
      log_line("warning: trouble reading ", f, "; will try again later\n", NULL);
      p->eof = 0;
      p->nextgrp = p->ngrp;
      pass_close(ch);
      continue;
    }
    bio_init(&p->b, p->fd, p->buf, sizeof p->buf);
  }
}

static const char toolong[] = "I'm not going to try again; this message has been in the queue too long.\n";

static void del_report(struct chan *ch)
{
  char num[FMT_ULONG];
  unsigned long n, k;
  struct del *x;
  struct drcpt *r;
  struct job *job;
  sa *rep = &ch->rd.f[2];
  const char *recip;
  size_t len;
  todo_msg *m;

  if (ch->rd.nomem || !spawnproto_num(&ch->rd.f[0], &n) || n >= ch->slots || !ch->dels[n].used
      || !spawnproto_num(&ch->rd.f[1], &k) || k >= ch->dels[n].n || ch->dels[n].r[k].done) {
    log_line("warning: internal error: delivery report out of range\n", NULL);
    return;
  }
  x = &ch->dels[n];
  r = &x->r[k];
  r->done = 1;
  recip = x->recips.s + r->off;
  job = &ch->jobs[x->j];
  log_ul(num, r->delid);
  len = rep->len - 1;
  if (len && rep->s[0] == 'Z' && job->dying) {
    /* past queuelifetime a temporary failure counts as permanent */
    rep->s[0] = 'D';
    rep->len = len;
    while (!sa_cats(rep, toolong) || !sa_0(rep)) log_nomem();
    len = rep->len - 1;
  }
  switch (len ? rep->s[0] : 0) {
    case 'K':
      log_line("delivery ", num, ": success: ", LOG_SAFE, rep->s + 1, "\n", NULL);
      mark_done(ch->c, job->id, r->mpos);
      --job->numtodo;
      break;
    case 'Z':
      /* the message stays in the queue: into its files with it now */
      m = todo_find(job->id);
      if (m) todo_commit(m);
      log_line("delivery ", num, ": deferral: ", LOG_SAFE, rep->s + 1, "\n", NULL);
      break;
    case 'D':
      log_line("delivery ", num, ": failure: ", LOG_SAFE, rep->s + 1, "\n", NULL);
      /* the bounce text is on disk before the mark */
      bounce_add(job->id, recip, rep->s + 1, len - 1);
      mark_done(ch->c, job->id, r->mpos);
      --job->numtodo;
      break;
    default:
      log_line("delivery ", num, ": report mangled, will defer\n", NULL);
  }
  if (--x->left) return;
  /* the last report of the delivery frees its slot */
  job_close(ch, x->j);
  x->used = 0;
  if (x->recips.a > 65536) sa_free(&x->recips);
  ch->freeslot[ch->numfree++] = n;
  --ch->used;
  del_status();
}

/* del_read - every report waiting in the pipe (up to 64 KB a turn): a
 * slot whose report has come is free for this turn's deliveries */
static void del_read(struct chan *ch)
{
  char buf[4096];
  ssize_t r;
  size_t pos;
  int done, k;

  for (k = 0; k < 16; ++k) {
    r = read(ch->fdin, buf, sizeof buf);
    if (r == -1) return;
    if (r == 0) { spawndied(ch); return; }
    for (pos = 0; pos < (size_t)r; ) {
      pos += spawnrd_feed(&ch->rd, buf + pos, (size_t)r - pos, &done);
      if (done) { del_report(ch); spawnrd_reset(&ch->rd); }
    }
    if ((size_t)r < sizeof buf) return;
  }
}

static void comm_do(struct chan *ch)
{
  ssize_t w;
  if (ch->commpos >= ch->comm.len) return;
  w = write(ch->fdout, ch->comm.s + ch->commpos, ch->comm.len - ch->commpos);
  if (w == -1) {
    if (errno == EPIPE) spawndied(ch);
    return;
  }
  ch->commpos += (size_t)w;
  if (ch->commpos == ch->comm.len) {
    ch->commpos = 0;
    ch->comm.len = 0;
    if (ch->comm.a > 65536) sa_free(&ch->comm);
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
static void pass_group(struct chan *ch)
{
  struct pass *p = &ch->pass;
  size_t i, k, *o;
  struct grp *gr;

  while (!(o = grow(p->ord, &p->orda, p->nent, sizeof *o))) log_nomem();
  p->ord = o;
  while (!(gr = grow(p->grp, &p->grpa, p->nent, sizeof *gr))) log_nomem();
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
static int pass_fill(struct chan *ch)
{
  struct pass *p = &ch->pass;
  char f[QFN_SIZE];
  int r;

  p->pool.len = 0;
  p->nent = 0;
  while (p->nent < POOLMAX && p->pool.len < POOLBYTES) {
    line.len = 0;
    if (p->fd != -1) r = bio_getln(&p->b, &line, 0, RECORDMAX);
    else {
      const sa *l = todo_list(p->mem, ch->c);
      size_t at = (size_t)p->mpos, k;
      r = 0;
      if (at < l->len) {
        k = byte_chr(l->s + at, l->len - at, 0);
        r = k < l->len - at ? 1 : -1;     /* a record ends in its NUL */
        if (r == 1) while (!sa_copyb(&line, l->s + at, k + 1)) log_nomem();
      }
    }
    if (r < 0) {
      log_line("warning: trouble reading ", queue_fn(f, queue_chan(ch->c), p->id),
               "; will try again later\n", NULL);
      return 0;
    }
    if (r == 0) { p->eof = 1; break; }
    if (line.s[0] == 'T') {
      struct ent *e;
      size_t at;
      while (!(e = grow(p->ent, &p->enta, p->nent + 1, sizeof *e))) log_nomem();
      p->ent = e;
      e = &p->ent[p->nent++];
      e->off = p->pool.len;
      e->len = line.len - 2;
      e->mpos = p->mpos;
      at = byte_rchr(line.s + 1, e->len, '@');
      e->dom = e->off + (at < e->len ? at + 1 : e->len);
      while (!sa_catb(&p->pool, line.s + 1, line.len - 1)) log_nomem();
      ++ch->jobs[p->j].numtodo;
    }
    else if (line.s[0] != 'D') {
      log_line("warning: unknown record type in ", queue_fn(f, queue_chan(ch->c), p->id), "!\n", NULL);
      return 0;
    }
    p->mpos += (off_t)line.len;
  }
  pass_group(ch);
  return 1;
}

static void pass_close(struct chan *ch)
{
  struct pass *p = &ch->pass;
  if (p->fd != -1) close(p->fd);
  job_close(ch, p->j);
  p->id = 0;
  p->nent = p->ngrp = p->nextgrp = 0;
  if (p->pool.a > POOLBYTES) sa_free(&p->pool);
}

/* pass_step - one step of the channel's pass; 1 when it got something done */
static int pass_step(struct chan *ch)
{
  struct pass *p = &ch->pass;
  const send_controls *ctl = send_ctl();
  time_t now = send_now();

  if (send_exiting()) return 0;
  if (!p->id) {
    char f[QFN_SIZE];
    struct job *job;
    unsigned long id;
    time_t birth;
    long j;
    int r;

    if (!sched_ready(ch->c)) return 0;
    if (!del_avail(ch)) return 0;
    sched_take(ch->c, &id);
    p->mem = todo_find(id);
    p->fd = p->mem ? -1 : open_read(queue_fn(f, queue_chan(ch->c), id));
    if (p->mem || p->fd != -1) {
      while (!(r = queue_info(id, &line, &birth)) && errno == ENOMEM) log_nomem();
      if (!r && p->fd != -1) { close(p->fd); p->fd = -1; }
      if (!r) p->mem = 0;
    }
    if (!p->mem && p->fd == -1) {
      log_line("warning: trouble opening ", queue_fn(f, queue_chan(ch->c), id),
               "; will try again later\n", NULL);
      sched_retry(ch->c, id, now + SLEEP_SYSFAIL);
      return 1;
    }
    j = job_open(ch, id);
    if (j == -1) {                    /* cannot happen: one job per slot and one spare */
      if (p->fd != -1) close(p->fd);
      sched_retry(ch->c, id, now);
      return 0;
    }
    job = &ch->jobs[j];
    if (p->mem) todo_started(todo_find(id));
    p->id = id;
    p->j = (size_t)j;
    p->mpos = 0;
    p->eof = 0;
    p->nent = p->ngrp = p->nextgrp = 0;
    if (p->fd != -1) bio_init(&p->b, p->fd, p->buf, sizeof p->buf);
    job->retry = retry_next(birth, now, ch->skip);
    job->dying = (unsigned long)(now - birth) > ctl->lifetime && now > birth;
    while (!sa_copy(&job->sender, &line)) log_nomem();
    /* VERP gives each recipient its own sender: no sharing then */
    p->cap = ch->c == 1 && !(line.len >= 5 && !memcmp(line.s + line.len - 5, "-@[]", 5))
             ? ctl->remotebatch : 1;
  }
  if (!del_avail(ch)) return 0;
  if (p->nextgrp < p->ngrp) {
    del_start(ch, &p->grp[p->nextgrp++]);
    return 1;
  }
  if (p->eof) {                       /* the end of the list */
    ch->jobs[p->j].hiteof = 1;
    pass_close(ch);
    return 1;
  }
  if (!pass_fill(ch)) pass_close(ch);
  return 1;
}

/* ------------------------------------------------- THE POLL LOOP SIDE */

void del_poll(struct pollfd *p, nfds_t *n, time_t *wakeup)
{
  int c;

  for (c = 0; c < CHANNELS; ++c) {
    struct chan *ch = &chans[c];
    ch->idxin = ch->idxout = -1;
    if (!ch->alive) continue;
    ch->idxin = (int)*n;
    p[*n].fd = ch->fdin; p[*n].events = POLLIN; p[*n].revents = 0; ++*n;
    if (ch->commpos < ch->comm.len) {
      ch->idxout = (int)*n;
      p[*n].fd = ch->fdout; p[*n].events = POLLOUT; p[*n].revents = 0; ++*n;
    }
    if (send_exiting()) continue;
    if (!del_avail(ch)) continue;
    if (ch->pass.id) { *wakeup = 0; continue; }
    sched_due(c, wakeup);
  }
}

void del_do(const struct pollfd *p)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) {
    struct chan *ch = &chans[c];
    if (ch->idxout != -1 && p[ch->idxout].revents && ch->alive) comm_do(ch);
    if (ch->idxin != -1 && p[ch->idxin].revents && ch->alive) del_read(ch);
  }
  mark_flush(0);
  del_startall();
}

void del_startall(void)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) {
    struct chan *ch = &chans[c];
    while (pass_step(ch)) ;
    if (ch->alive) comm_do(ch);   /* most commands fit the pipe at once */
  }
}
