/* qmail-send-sched - the priority queues: message ids by next attempt.
 * Per channel (0 local, 1 remote), retry holds the messages whose
 * local/ or remote/ list has recipients left, fresh those just
 * preprocessed from todo/ (served in turn with retry, so new mail does
 * not wait behind a backlog of retries); done holds messages with
 * neither list (ready to finish: bounce, then remove), fail ids whose
 * files could not be examined. The deliver part takes due ids
 * (sched_take) and gives them back (sched_retry, sched_finished). */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "prioq.h"
#include "qmail-send.h"

struct schedchan {
  prioq retry;
  prioq fresh;
  int takefresh;        /* the next one is fresh when both are due */
};

static struct schedchan ch[CHANNELS];
static prioq done, fail;

static void insert(prioq *q, unsigned long id, time_t when)
{
  prioq_elt pe;
  pe.id = id;
  pe.dt = when;
  while (!prioq_insert(q, &pe)) log_nomem();
}

static void lower(const prioq *q, time_t *wakeup)
{
  prioq_elt pe;
  if (prioq_min(q, &pe) && pe.dt < *wakeup) *wakeup = pe.dt;
}

static int due(const prioq *q)
{
  prioq_elt pe;
  return prioq_min(q, &pe) && pe.dt <= send_now();
}

void sched_new(unsigned long id, const int has[CHANNELS])
{
  int c, any = 0;
  for (c = 0; c < CHANNELS; ++c)
    if (has[c]) {
      any = 1;
      insert(&ch[c].fresh, id, send_now());
    }
  if (!any) insert(&done, id, send_now());
}

int sched_take(int c, unsigned long *id)
{
  struct schedchan *s = &ch[c];
  int dueretry = due(&s->retry), duefresh = due(&s->fresh);
  prioq *src;
  prioq_elt pe;

  if (!dueretry && !duefresh) return 0;
  /* alternate between first attempts and retries when both wait */
  src = duefresh && (!dueretry || s->takefresh) ? &s->fresh : &s->retry;
  s->takefresh = src != &s->fresh;
  prioq_min(src, &pe);
  prioq_delmin(src);
  *id = pe.id;
  return 1;
}

int sched_ready(int c)
{
  return due(&ch[c].retry) || due(&ch[c].fresh);
}

void sched_due(int c, time_t *wakeup)
{
  lower(&ch[c].retry, wakeup);
  lower(&ch[c].fresh, wakeup);
}

void sched_retry(int c, unsigned long id, time_t when)
{
  insert(&ch[c].retry, id, when);
}

void sched_finished(unsigned long id, time_t when)
{
  insert(&done, id, when);
}

void sched_wakeup(time_t *wakeup)
{
  lower(&fail, wakeup);
  lower(&done, wakeup);
}

void sched_runall(void)
{
  int c;
  for (c = 0; c < CHANNELS; ++c) prioq_setall(&ch[c].retry, send_now());
}

/* stale - remove what an earlier run left of id before its commit: the
 * message is preprocessed again from todo/ */
static void stale(unsigned long id)
{
  static const char *const dirs[] = { "info", "local", "remote", "bounce" };
  char f[QFN_SIZE];
  size_t i;
  for (i = 0; i < sizeof dirs / sizeof *dirs; ++i)
    if (unlink(queue_fn(f, dirs[i], id)) == -1 && errno != ENOENT)
      log_line("warning: unable to unlink ", f, "\n", NULL);
}

/* add - put a message found in info/ where it belongs */
static void add(unsigned long id)
{
  char f[QFN_SIZE];
  time_t next[CHANNELS];
  int flag[CHANNELS], c, any = 0;
  struct stat st;

  if (stat(queue_fn(f, "info", id), &st) == -1) {
    if (errno == ENOENT) return;      /* gone meanwhile */
    goto fail;
  }
  if ((st.st_mode & 07777) == INFO_FINAL) {
    /* committed by a run that had lost qmail-clean: the files are the
     * message, todo/ is what that run could not remove */
    if (!clean_cmd("todo", id)) goto fail;
  }
  if (stat(queue_fn(f, "todo", id), &st) == 0) {
    /* not committed when the last run ended: todo/ has it, and the
     * files are leftovers of a commit that did not finish */
    if (!todo_find(id)) stale(id);
    return;
  }
  if (errno != ENOENT) goto fail;
  for (c = 0; c < CHANNELS; ++c) {
    flag[c] = 0;
    if (stat(queue_fn(f, queue_chan(c), id), &st) == -1) { if (errno != ENOENT) goto fail; continue; }
    flag[c] = 1;
    any = 1;
    next[c] = st.st_mtime;            /* the next attempt, as sched_finish left it */
  }
  for (c = 0; c < CHANNELS; ++c)
    if (flag[c]) insert(&ch[c].retry, id, next[c]);
  if (!any) insert(&done, id, time(0));
  return;
fail:
  log_line("warning: unable to stat ", f, "; will try again later\n", NULL);
  insert(&fail, id, time(0) + SLEEP_SYSFAIL);
}

void sched_start(void)
{
  char f[QFN_SIZE];
  queue_scan s;
  unsigned long id;
  struct stat st;
  struct dirent *e;
  DIR *dir;

  queue_scan_init(&s, "info");
  while (queue_scan_next(&s, &id)) add(id);
  /* bounce text of deliveries of a message that was never committed:
   * they are made again */
  while (!(dir = opendir("bounce"))) log_pausedir("bounce");
  while ((e = readdir(dir)))
    if (qfn_id(e->d_name, &id) && stat(queue_fn(f, "todo", id), &st) == 0
        && stat(queue_fn(f, "info", id), &st) == -1 && errno == ENOENT)
      stale(id);
  closedir(dir);
}

/* sched_finish - at exit, record each list's next attempt as its mtime */
void sched_finish(void)
{
  char f[QFN_SIZE];
  prioq_elt pe;
  struct utimbuf ut;
  int c;

  for (c = 0; c < CHANNELS; ++c)
    while (prioq_min(&ch[c].retry, &pe)) {
      prioq_delmin(&ch[c].retry);
      ut.actime = ut.modtime = pe.dt;
      if (utime(queue_fn(f, queue_chan(c), pe.id), &ut) == -1)
        log_line("warning: unable to utime ", f, "; message will be retried too soon\n", NULL);
    }
}

/* finish - every recipient is done: bounce if needed, then remove */
static void finish(unsigned long id)
{
  char num[FMT_ULONG], f[QFN_SIZE];
  struct stat st;
  int c;
  todo_msg *m = todo_find(id);

  if (m) {
    /* not committed: no files but todo/ and the message */
    if (todo_pending(m)) return;
    if (!bounce_inject(id)) goto fail;
    /* the bounce is queued before todo/ goes: a crash before this point
     * preprocesses the message again, never forgets the bounce */
    if (!todo_release(m)) goto fail;
    log_line("end msg ", log_ul(num, id), "\n", NULL);
    return;
  }
  for (c = 0; c < CHANNELS; ++c) {
    if (stat(queue_fn(f, queue_chan(c), id), &st) == 0) return;   /* still in progress */
    if (errno != ENOENT) {
      log_line("warning: unable to stat ", f, "; will try again later\n", NULL);
      goto fail;
    }
  }
  if (stat(queue_fn(f, "todo", id), &st) == 0) return;
  if (errno != ENOENT) {
    log_line("warning: unable to stat ", f, "; will try again later\n", NULL);
    goto fail;
  }
  if (stat(queue_fn(f, "info", id), &st) == -1) {
    if (errno == ENOENT) return;
    log_line("warning: unable to stat ", f, "; will try again later\n", NULL);
    goto fail;
  }
  if (!bounce_inject(id)) goto fail;   /* it logged why */
  log_line("end msg ", log_ul(num, id), "\n", NULL);
  if (unlink(queue_fn(f, "info", id)) == -1) {
    log_line("warning: unable to unlink ", f, "; will try again later\n", NULL);
    goto fail;
  }
  /* info is gone: from here the message is only garbage for qmail-clean */
  clean_cmd("foop", id);   /* else the scan of mess/ finds it */
  return;
fail:
  insert(&done, id, time(0) + SLEEP_SYSFAIL);
}

/* sched_do - retry failed stats and finish messages, a bounded number a turn */
void sched_do(void)
{
  prioq_elt pe;
  int k;

  if (send_exiting()) return;
  for (k = 0; k < 64 && prioq_min(&fail, &pe) && pe.dt <= send_now(); ++k) {
    prioq_delmin(&fail);
    add(pe.id);
  }
  for (k = 0; k < 64 && prioq_min(&done, &pe) && pe.dt <= send_now(); ++k) {
    prioq_delmin(&done);
    finish(pe.id);
    if (send_exiting()) return;
  }
}
