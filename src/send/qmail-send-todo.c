/* qmail-send-todo - preprocess new messages from todo/ (state S4 to S5 of
 * qmail-queue(8)).
 * A new message is read from todo/id and preprocessed in memory: its
 * sender, its birth (now) and its recipients, rewritten and split into a
 * local and a remote list of T records, exactly as info/N/id, local/N/id
 * and remote/N/id would hold them. Its deliveries start at once, while
 * todo/id stays: the message is preprocessed but not committed, and a
 * crash only means it is preprocessed again from scratch and its
 * recipients are delivered again: twice, never zero times.
 * Most messages are finished within a moment; then qmail-clean simply
 * removes todo/id and intd/id, and the message never had an info, local
 * or remote file: no file created, written, fsynced or removed.
 * A message still in the queue COMMIT_DELAY ms after its first delivery
 * could start (or after it was read, if none does; in the next turn
 * after a temporary failure; sooner when PENDMAX wait or MEMMAX bytes) is
 * committed: info/ (with the birth as its
 * mtime), and the lists not finished yet, with the D marks made so far,
 * are written, then fsynced, many messages sharing the disk flushes, and
 * only then is todo/id removed. From there on the message lives in its
 * files as any other. At exit everything is committed.
 * Each turn of the main loop handles a bounded batch, so a flood of new
 * mail cannot starve deliveries ("silly qmail syndrome"), and the scan
 * stops reading while TODO_AHEAD messages it read wait for a delivery
 * slot: what the deliveries cannot take yet waits in todo/, unread, and
 * is not committed for having waited. Unless no local delivery runs:
 * then the waiting ones wait for remote slots only, and the scan reads
 * on to find the local mail behind them (scan_held). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "open.h"
#include "rewrite.h"
#include "scan.h"
#include "qmail-send.h"

#define TODO_BATCH 16          /* messages per turn at most */
#define TODO_BUDGET_MS 50      /* and about this much time */
#define TODO_AHEAD 128         /* read no further while this many wait to start */
#define REWIND_MS 1000         /* the trigger restarts a pass at most this often */
#define REWIND_MAX 4           /* and at most this many times a pass */
#define PENDMAX 1024           /* messages preprocessed, not committed */
#define HSETSIZE 4096          /* a power of 2 above 2 * PENDMAX */
#define MEMMAX 16777216        /* bytes of lists they may hold */
#define COMMIT_DELAY 1000      /* ms a message may stay uncommitted */
#define COMMIT_BATCH 64        /* messages a commit fsyncs together */
#define COMMIT_RETRY 10000     /* ms after a failed commit */

/* a message preprocessed, not committed */
struct todo_msg {
  unsigned long id;
  time_t birth;
  sa sender;                  /* with its NUL, as queue_info gives it */
  sa list[CHANNELS];          /* T and D records, as local/ and remote/ */
  int has[CHANNELS];          /* the list is there: not all done yet */
  int waiting;                /* read, no delivery started yet */
  size_t slot;                /* its entry in the ring */
  dev_t envdev;               /* todo/id (its envelope) as it was read: */
  ino_t envino;               /* its inode */
  struct timespec envmtime;   /* and when qmail-queue wrote it */
};

static int triggerfd = -1;
static int trigidx = -1;       /* in the poll set */
static DIR *tododir;
static time_t nexttodorun;
static int flagtodo;           /* the trigger was pulled */
static long passstart;         /* send_ms() of the pass's start or last rewind */
static int rewinds;            /* of this pass */
static size_t numwaiting;      /* messages read, none of their deliveries started */
/* entries the pass found still held by qmail-queue: its trigger says it
 * let go, and they are read then instead of at the next pass */
#define HELDMAX 64
static unsigned long held[HELDMAX];
static size_t numheld;
static int flagheld;           /* try them again */
static sa rec = SA_ZERO;
static sa addr = SA_ZERO;

void todo_init(void)
{
  tododir = 0;
  nexttodorun = time(0);
  flagtodo = 1;
  /* read-write: we are a writer too, so the FIFO never reports a hangup
   * and qmail-queue's nonblocking open always finds a reader */
  triggerfd = open("lock/trigger", O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static int scan_held(void);

void todo_poll(struct pollfd *p, nfds_t *n, time_t *wakeup)
{
  trigidx = -1;
  if (send_exiting()) return;
  if (triggerfd != -1) {
    trigidx = (int)*n;
    p[*n].fd = triggerfd; p[*n].events = POLLIN; p[*n].revents = 0; ++*n;
  }
  /* while the scan is held, the next entry waits: a report that frees a
   * slot, or a commit's timeout, wakes us */
  if (scan_held()) return;
  if (tododir || flagtodo) { *wakeup = 0; return; }
  if (*wakeup > nexttodorun) *wakeup = nexttodorun;
}

/* The messages preprocessed but not committed: a ring of ids in the order
 * they were preprocessed, so the oldest is due first, and a hash set of
 * the messages by id. An id taken out of the middle of the ring leaves a
 * hole (0: no message has id 0). */
static struct pend {
  unsigned long id;             /* 0: a hole */
  long due;                     /* send_ms() of its commit */
} ring[PENDMAX];
static size_t ringhead, ringlen;
static todo_msg *hset[HSETSIZE];      /* open addressing */
static size_t numpend;
static size_t membytes;             /* held in the lists */

/* scan_held - the scan reads no further for now: the ring is full (the
 * commits due make room), or TODO_AHEAD messages read wait for a slot
 * while local deliveries run. With none running, the waiting ones are
 * all for remote slots (a waiting local one would have started): a bulk
 * remote send must not keep the local mail queued behind it in todo/,
 * so the scan goes on, and what it reads for remote waits in memory and
 * is committed COMMIT_DELAY later, as after a first attempt that failed. */
static int scan_held(void)
{
  if (ringlen >= PENDMAX) return 1;
  return numwaiting >= TODO_AHEAD && !del_idle(0);
}

static size_t hslot(unsigned long id)
{
  return (size_t)((id * 2654435761UL) ^ (id >> 16)) & (HSETSIZE - 1);
}

todo_msg *todo_find(unsigned long id)
{
  size_t i;
  for (i = hslot(id); hset[i]; i = (i + 1) & (HSETSIZE - 1))
    if (hset[i]->id == id) return hset[i];
  return 0;
}

int todo_info(const todo_msg *m, sa *sender, time_t *birth)
{
  if (!sa_copy(sender, &m->sender)) return 0;
  *birth = m->birth;
  return 1;
}

const sa *todo_list(const todo_msg *m, int c)
{
  return &m->list[c];
}

void todo_mark(todo_msg *m, int c, off_t pos)
{
  if (pos >= 0 && (size_t)pos < m->list[c].len) m->list[c].s[pos] = 'D';
}

int todo_listdone(todo_msg *m, int c)
{
  m->has[c] = 0;
  return !todo_pending(m);
}

int todo_pending(const todo_msg *m)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) if (m->has[c]) return 1;
  return 0;
}

static void hset_add(todo_msg *m)
{
  size_t i;
  for (i = hslot(m->id); hset[i]; i = (i + 1) & (HSETSIZE - 1)) ;
  hset[i] = m;
  ++numpend;
}

/* hset_del - linear probing: move later entries of the run back */
static void hset_del(unsigned long id)
{
  size_t i, j, k;
  for (i = hslot(id);; i = (i + 1) & (HSETSIZE - 1)) {
    if (!hset[i]) return;
    if (hset[i]->id == id) break;
  }
  --numpend;
  for (j = i;;) {
    hset[i] = 0;
    for (;;) {
      j = (j + 1) & (HSETSIZE - 1);
      if (!hset[j]) return;
      k = hslot(hset[j]->id);
      /* leave j where it is if its home lies cyclically in (i, j] */
      if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
      break;
    }
    hset[i] = hset[j];
    i = j;
  }
}

static void mem_free(todo_msg *m)
{
  int c;
  sa_free(&m->sender);
  for (c = 0; c < CHANNELS; ++c) {
    membytes -= m->list[c].a;
    sa_free(&m->list[c]);
  }
  free(m);
}

/* forget - id is committed or finished: out of the set and the ring */
static void forget(todo_msg *m)
{
  size_t n, k;
  if (m->waiting) { m->waiting = 0; --numwaiting; }
  hset_del(m->id);
  if (ring[m->slot].id == m->id) ring[m->slot].id = 0;
  else
    for (n = 0; n < ringlen; ++n) {
      k = (ringhead + n) % PENDMAX;
      if (ring[k].id == m->id) { ring[k].id = 0; break; }
    }
  while (ringlen && !ring[ringhead].id) { ringhead = (ringhead + 1) % PENDMAX; --ringlen; }
  mem_free(m);
}

/* read_todo - read todo/id and preprocess it into memory; 1 when it is
 * handed to the scheduler, -1 while qmail-queue still holds it, or 0
 * (logged) to leave it for later */
static int read_todo(unsigned long id)
{
  char num[FMT_ULONG], num2[FMT_ULONG], num3[FMT_ULONG], num4[FMT_ULONG];
  char inbuf[4096], tf[QFN_SIZE], f[QFN_SIZE];
  const send_controls *ctl = send_ctl();
  bio in;
  struct stat st, st2;
  todo_msg *m;
  int fd, c, r;
  unsigned long uid = 0, pid = 0;
  rewrite_ctl rc;

  fd = open_read(queue_fn(tf, "todo", id));
  if (fd == -1) {
    /* a stale entry of a scan: the message finished meanwhile */
    if (errno != ENOENT) log_line("warning: unable to open ", tf, "\n", NULL);
    return 0;
  }
  /* qmail-queue still holds the message: it may yet undo todo/id, and
   * pulls the trigger once it has let go */
  switch (queue_unlocked(id, &st)) {            /* st for the statistics */
    case 0: close(fd); return -1;
    case -1:
      if (errno != ENOENT || stat(tf, &st) == 0)
        log_line("warning: unable to stat ", queue_fn(f, "mess", id), "\n", NULL);
      close(fd);
      return 0;
  }
  /* qmail-queue has let go; an undone message has lost todo/ by now */
  if (stat(tf, &st2) == -1) { close(fd); return 0; }
  /* leftovers of an earlier run that crashed before the commit (info,
   * lists, bounce text) were removed when this run started (sched_start) */
  m = calloc(1, sizeof *m);
  if (!m) { log_nomem(); close(fd); return 0; }
  m->id = id;
  m->birth = send_now();
  m->envdev = st2.st_dev;
  m->envino = st2.st_ino;
  m->envmtime = st2.st_mtim;
  log_line("new msg ", log_ul(num, id), "\n", NULL);
  /* queued a while before we saw it (qmail-send was down): say when, so
   * that log analysis reports its real delay (qmail-log(5)) */
  if (st.st_mtime + 2 <= m->birth)
    log_line("birth msg ", log_ul(num, id), ": ", log_ul(num2, (unsigned long)st.st_mtime), "\n", NULL);

  rc.envnoathost = ctl->envnoathost.s;
  rc.percenthack = &ctl->percenthack;
  rc.locals = &ctl->locals;
  rc.vdoms = &ctl->vdoms;
  bio_init(&in, fd, inbuf, sizeof inbuf);
  for (;;) {
    rec.len = 0;
    r = bio_getln(&in, &rec, 0, RECORDMAX);
    if (r == -1 || r == -2 || (r == 0 && rec.len)) {
      log_line("warning: trouble reading ", tf, "\n", NULL);
      goto fail;
    }
    if (r == 0) break;
    switch (rec.s[0]) {
      case 'u': scan_ulong(rec.s + 1, &uid); break;
      case 'p': scan_ulong(rec.s + 1, &pid); break;
      case 'F':
        if (!sa_copyb(&m->sender, rec.s + 1, rec.len - 1)) { log_nomem(); goto fail; }
        log_line("info msg ", log_ul(num, id), ": bytes ", log_ul(num2, (unsigned long)st.st_size),
             " from <", LOG_SAFE, rec.s + 1, "> qp ", log_ul(num3, pid), " uid ",
             log_ul(num4, uid), "\n", NULL);
        break;
      case 'T':
        r = rewrite_rcpt(&addr, rec.s + 1, rec.len - 2, &rc);
        if (!r) { log_nomem(); goto fail; }
        c = r == REWRITE_LOCAL ? 0 : 1;
        membytes -= m->list[c].a;
        r = sa_append(&m->list[c], 'T') && sa_catb(&m->list[c], addr.s ? addr.s : "", addr.len)
            && sa_0(&m->list[c]);
        membytes += m->list[c].a;
        if (!r) { log_nomem(); goto fail; }
        m->has[c] = 1;
        break;
      default:
        log_line("warning: unknown record type in ", tf, "\n", NULL);
        goto fail;
    }
  }
  close(fd);
  if (!m->sender.s) {
    log_line("warning: trouble reading ", tf, "\n", NULL);
    mem_free(m);
    return 0;
  }
  /* the ring has room: todo_do checked */
  r = (int)((ringhead + ringlen) % PENDMAX);
  ring[r].id = id;
  /* too much held in memory: to the files with it at the next commit */
  ring[r].due = membytes > MEMMAX ? 0 : send_ms() + COMMIT_DELAY;
  m->slot = (size_t)r;
  ++ringlen;
  hset_add(m);
  for (c = 0; c < CHANNELS; ++c) if (m->has[c]) m->waiting = 1;
  numwaiting += (size_t)m->waiting;
  sched_new(id, m->has);
  return 1;

fail:
  close(fd);
  mem_free(m);
  return 0;
}

/* create - write s[0..len) to a new file f; its fd, or -1 (logged) */
static int create(const char *f, const char *s, size_t len)
{
  int fd = open_excl_mode(f, 0600);
  /* a leftover: while todo/ names the message, only memory counts */
  if (fd == -1 && errno == EEXIST && unlink(f) == 0) fd = open_excl_mode(f, 0600);
  if (fd == -1) {
    log_line("warning: unable to create ", f, "\n", NULL);
    return -1;
  }
  if (!bio_writeall(fd, s, len, 0)) {
    log_line("warning: trouble writing to ", f, "\n", NULL);
    close(fd);
    unlink(f);
    return -1;
  }
  /* start the writeback now: the fsyncs that follow find it under way */
  sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return fd;
}

/* writeout - the files of m: info (mtime the birth), then the lists
 * still in progress; 1 with their fds in fds, or 0 (logged, undone) */
static int writeout(todo_msg *m, int *fds)
{
  char f[QFN_SIZE];
  struct timespec t[2];
  int c;

  for (c = 0; c <= CHANNELS; ++c) fds[c] = -1;
  rec.len = 0;
  if (!sa_append(&rec, 'F') || !sa_cat(&rec, &m->sender)) {
    log_nomem();
    return 0;
  }
  fds[0] = create(queue_fn(f, "info", m->id), rec.s, rec.len);
  if (fds[0] == -1) return 0;
  t[0].tv_sec = t[1].tv_sec = m->birth;
  t[0].tv_nsec = t[1].tv_nsec = 0;
  futimens(fds[0], t);
  for (c = 0; c < CHANNELS; ++c) {
    if (!m->has[c]) continue;
    fds[1 + c] = create(queue_fn(f, queue_chan(c), m->id), m->list[c].s, m->list[c].len);
    if (fds[1 + c] == -1) {
      while (c-- > 0)
        if (fds[1 + c] != -1) { close(fds[1 + c]); unlink(queue_fn(f, queue_chan(c), m->id)); }
      close(fds[0]);
      unlink(queue_fn(f, "info", m->id));
      return 0;
    }
  }
  return 1;
}

/* commit_msgs - commit ms[0..n): the files of all are written first and
 * fsynced after, so the flushes carry many of them; only then does
 * qmail-clean remove todo/. Each one committed is forgotten; the others
 * stay, due again after COMMIT_RETRY ms, and what was written for them
 * goes again: no file may outlive a message that then finishes from
 * memory. With qmail-clean gone (at exit) todo/ has to stay: the info
 * file is then marked final (mode 0640) once everything is on disk, and
 * the next run removes todo/ and keeps the files (sched_start). */
static void commit_msgs(todo_msg **ms, size_t n)
{
  char f[QFN_SIZE];
  int alive = clean_alive();
  int fds[COMMIT_BATCH][1 + CHANNELS];
  int ok[COMMIT_BATCH], written[COMMIT_BATCH], cleaned[COMMIT_BATCH];
  unsigned long ids[COMMIT_BATCH] = { 0 };
  size_t k, j, slot;
  int c;

  for (k = 0; k < n; ++k) written[k] = ok[k] = writeout(ms[k], fds[k]);
  for (k = 0; k < n; ++k) {
    if (!ok[k]) continue;
    for (c = 0; c <= CHANNELS; ++c)
      if (fds[k][c] != -1 && fsync(fds[k][c]) == -1) {
        log_line("warning: trouble fsyncing ", queue_fn(f, c ? queue_chan(c - 1) : "info", ms[k]->id),
                 "\n", NULL);
        ok[k] = 0;
      }
    /* the mark comes last: a final info promises the lists are there */
    if (ok[k] && !alive &&
        (fchmod(fds[k][0], INFO_FINAL) == -1 || fsync(fds[k][0]) == -1)) {
      log_line("warning: trouble fsyncing ", queue_fn(f, "info", ms[k]->id), "\n", NULL);
      ok[k] = 0;
    }
    for (c = 0; c <= CHANNELS; ++c) if (fds[k][c] != -1) close(fds[k][c]);
  }
  /* the todo/ entries of the whole batch go in one exchange */
  for (k = 0, j = 0; k < n; ++k) if (ok[k]) ids[j++] = ms[k]->id;
  if (alive) clean_many("todo", ids, j, cleaned);
  for (k = 0, j = 0; k < n; ++k) {
    todo_msg *m = ms[k];
    int gone = ok[k] && alive && cleaned[j++];
    if (ok[k] && !alive) {
      /* final: the files are the message; todo/ goes next run */
      del_committed(m->id);
      forget(m);
      continue;
    }
    if (gone) {
      /* from here the files are the message */
      del_committed(m->id);
      forget(m);
      continue;
    }
    /* the files written are harmless while todo/id is there, but they
     * must not stay once the message is done */
    if (written[k]) {
      for (c = 0; c < CHANNELS; ++c) if (m->has[c]) unlink(queue_fn(f, queue_chan(c), m->id));
      unlink(queue_fn(f, "info", m->id));
    }
    /* still pending: due again later (at exit: next time qmail-send runs) */
    for (slot = 0; slot < ringlen; ++slot)
      if (ring[(ringhead + slot) % PENDMAX].id == m->id) {
        ring[(ringhead + slot) % PENDMAX].due = send_ms() + COMMIT_RETRY;
        m->slot = (ringhead + slot) % PENDMAX;
        break;
      }
    if (slot == ringlen && ringlen < PENDMAX) {
      slot = (ringhead + ringlen++) % PENDMAX;
      ring[slot].id = m->id;
      ring[slot].due = send_ms() + COMMIT_RETRY;
      m->slot = slot;
    }
  }
}

/* commit - commit the oldest pending messages, looking at most at max
 * entries of the ring: all of them with all set, else those that are
 * due, or that have to make room for a new batch */
static void commit(int all, size_t max)
{
  todo_msg *ms[COMMIT_BATCH];
  long now = send_ms();
  size_t n = 0;

  for (; ringlen && n < COMMIT_BATCH && max; --max) {
    size_t h = ringhead;
    if (!ring[h].id) { ringhead = (h + 1) % PENDMAX; --ringlen; continue; }
    if (!all && ring[h].due > now && ringlen + TODO_BATCH <= PENDMAX) break;
    /* out of the ring; commit_msgs puts back what it cannot commit */
    ms[n] = todo_find(ring[h].id);
    ringhead = (h + 1) % PENDMAX;
    --ringlen;
    if (ms[n]) ++n;
  }
  commit_msgs(ms, n);
}

/* A message with a temporary failure is going to stay. It is committed
 * at the start of the next turn together with the others deferred in
 * this one, so that they share the disk flushes and qmail-clean's
 * wakeup, instead of paying both alone in the middle of the turn. */
static unsigned long deferred[COMMIT_BATCH];
static size_t numdeferred;

/* commit_deferred - commit the messages todo_commit listed */
static void commit_deferred(void)
{
  todo_msg *ms[COMMIT_BATCH];
  size_t k, n = 0;

  for (k = 0; k < numdeferred; ++k)
    if ((ms[n] = todo_find(deferred[k]))) ++n;   /* unless finished meanwhile */
  numdeferred = 0;
  commit_msgs(ms, n);
}

/* todo_commit - commit m soon: it is going to stay in the queue */
void todo_commit(todo_msg *m)
{
  size_t k;

  if (!clean_alive()) return;
  for (k = 0; k < numdeferred; ++k) if (deferred[k] == m->id) return;
  if (numdeferred == COMMIT_BATCH) commit_deferred();
  deferred[numdeferred++] = m->id;
}

/* todo_started - a pass takes m: its first delivery can start now. Its
 * COMMIT_DELAY counts from here, not from when it was read, so that a
 * message that waited for a slot is not written out before it had its
 * chance to finish from memory. */
void todo_started(todo_msg *m)
{
  long due = send_ms() + COMMIT_DELAY;
  if (!m->waiting) return;
  m->waiting = 0;
  --numwaiting;
  if (ring[m->slot].id == m->id && ring[m->slot].due && ring[m->slot].due < due)
    ring[m->slot].due = due;
}

/* still_named - todo/id is still the envelope m was read from: the same
 * inode, written at the same instant (a link or unlink of intd/ does not
 * change that; a new file on a reused inode does). Anything else (gone,
 * another message's, unable to tell) is 0. */
static int still_named(const todo_msg *m)
{
  char f[QFN_SIZE];
  struct stat st;

  if (stat(queue_fn(f, "todo", m->id), &st) == -1) return 0;
  return st.st_dev == m->envdev && st.st_ino == m->envino
      && st.st_mtim.tv_sec == m->envmtime.tv_sec && st.st_mtim.tv_nsec == m->envmtime.tv_nsec;
}

/* todo_release - m is finished, never committed: qmail-clean removes
 * todo/, intd/ and mess/ in one command (which it carries out even if
 * we die meanwhile), with no fsync. 1 done (m is freed), 0 trouble
 * (logged).
 * Should qmail-clean die on the command, it may have carried it out
 * without answering: intd/ and todo/ go first, mess/ last. Once todo/
 * no longer names m's envelope the message is gone, or going, and is
 * not kept to be committed at exit: its files would then outlive its
 * mess file, whose inode number, its id, the next qmail-queue may get,
 * and the next run would take them for that new message's (and remove
 * its todo/ entry). A mess file left behind without todo/ is swept as
 * abandoned (clean_sweep_do). Unable to tell counts as gone: at worst
 * the next run delivers the message again, never loses another. */
int todo_release(todo_msg *m)
{
  if (!clean_cmd("done", m->id)) {
    if (clean_alive() || still_named(m)) return 0;
  }
  forget(m);
  return 1;
}

void todo_timeout(long *ms)
{
  long left;
  size_t h = ringhead, n;
  for (n = 0; n < ringlen && !ring[h].id; ++n) h = (h + 1) % PENDMAX;
  if (n == ringlen) return;
  left = ring[h].due - send_ms();
  if (left < 0) left = 0;
  if (left < *ms) *ms = left;
}

void todo_exit(void)
{
  size_t left = ringlen;
  /* with qmail-clean gone too: committed as final (commit_msgs) */
  while (left) {
    size_t b = left < COMMIT_BATCH ? left : COMMIT_BATCH;
    commit(1, b);
    left -= b;
  }
}

void todo_do(const struct pollfd *p)
{
  struct dirent *e;
  unsigned long id;
  int k;
  long start;

  if (trigidx != -1 && p[trigidx].revents) {
    char buf[256];
    while (read(triggerfd, buf, sizeof buf) > 0) ;
    flagtodo = 1;
    flagheld = numheld > 0;
    /* a new entry may sort behind the pass's position: start over, where
     * the entries read already cost only their names. Seldom enough that
     * every pass still reaches its end. */
    if (tododir && rewinds < REWIND_MAX && send_ms() - passstart >= REWIND_MS) {
      rewinddir(tododir);
      ++rewinds;
      passstart = send_ms();
      flagtodo = 0;
    }
  }
  if (clean_alive()) {
    if (numdeferred) commit_deferred();
    commit(0, COMMIT_BATCH);
  }
  if (send_exiting()) return;
  if (!tododir) {
    if (!flagtodo && send_now() < nexttodorun) return;
    flagtodo = 0;
    tododir = opendir("todo");
    if (!tododir) { log_pausedir("todo"); return; }
    nexttodorun = send_now() + SLEEP_TODO;
    passstart = send_ms();
    rewinds = 0;
  }
  start = send_ms();
  k = 0;
  if (flagheld) {
    size_t i, n = numheld;
    flagheld = 0;
    numheld = 0;
    for (i = 0; i < n; ++i) {
      if (todo_find(held[i])) continue;   /* the pass got there first */
      if (k >= TODO_BATCH || ringlen >= PENDMAX) { held[numheld++] = held[i]; flagheld = 1; continue; }
      ++k;
      if (read_todo(held[i]) == -1) held[numheld++] = held[i];
    }
  }
  for (; k < TODO_BATCH && !scan_held(); ) {
    e = readdir(tododir);
    if (!e) { closedir(tododir); tododir = 0; break; }
    if (!qfn_id(e->d_name, &id)) continue;
    if (todo_find(id)) continue;          /* preprocessed already */
    ++k;
    if (read_todo(id) == -1 && numheld < HELDMAX) held[numheld++] = id;
    if (send_ms() - start > TODO_BUDGET_MS) break;
  }
}
