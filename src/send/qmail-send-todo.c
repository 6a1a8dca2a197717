/* qmail-send-todo - preprocess new messages from todo/ (state S4 to S5 of
 * qmail-queue(8)): write info/N/id with the sender (its mtime is the
 * birth), local/N/id and remote/N/id with one T record per rewritten
 * recipient, fsync all of them, and only then ask qmail-clean to remove
 * todo/id and intd/id. A crash at any point leaves todo/id, so the message
 * is preprocessed again from scratch: nothing is lost.
 * Each turn of the main loop handles a bounded batch, so a flood of new
 * mail cannot starve deliveries ("silly qmail syndrome"): the batch is
 * written first and fsynced after, so it costs about one disk flush. */
#include <errno.h>
#include <fcntl.h>
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

int triggerfd = -1;
static DIR *tododir;
static time_t nexttodorun;
static int flagtodo;           /* the trigger was pulled */
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

void todo_prep(time_t *wakeup)
{
  if (flagexitasap) return;
  if (tododir || flagtodo) { *wakeup = 0; return; }
  if (*wakeup > nexttodorun) *wakeup = nexttodorun;
}

void todo_triggered(void)
{
  char buf[256];
  while (read(triggerfd, buf, sizeof buf) > 0) ;
  flagtodo = 1;
}

struct chanfile {
  int fd;
  bio b;
  char buf[4096];
};

/* a preprocessed message whose files are written but not yet fsynced */
struct pending {
  unsigned long id;
  int fdinfo;
  int fdchan[CHANNELS];
};

static const char *const chname[CHANNELS] = { "local", "remote" };
static struct pending pend[TODO_BATCH];
static int numpend;

/* todo_write - preprocess todo/id into info/ and local/, remote/ without
 * fsync; 1 and the files in pend, or 0 (logged) to leave it for later */
static int todo_write(unsigned long id)
{
  char num[FMT_ULONG], num2[FMT_ULONG], num3[FMT_ULONG], num4[FMT_ULONG];
  char inbuf[4096], infobuf[1024];
  static struct chanfile ch[CHANNELS];
  bio in, info;
  struct stat st;
  int fd, fdinfo = -1, c, r;
  unsigned long uid = 0, pid = 0;
  rewrite_ctl rc;

  for (c = 0; c < CHANNELS; ++c) ch[c].fd = -1;
  fd = open_read(fn("todo", id));
  if (fd == -1) { qlog("warning: unable to open ", fn("todo", id), "\n", (char *)0); return 0; }
  if (stat(fn("mess", id), &st) == -1) {      /* for the statistics */
    qlog("warning: unable to stat ", fn("mess", id), "\n", (char *)0);
    goto fail;
  }
  /* leftovers of an earlier attempt that crashed go first */
  for (c = 0; c < CHANNELS; ++c)
    if (unlink(fn(chname[c], id)) == -1 && errno != ENOENT) {
      qlog("warning: unable to unlink ", fn(chname[c], id), "\n", (char *)0);
      goto fail;
    }
  if (unlink(fn("info", id)) == -1 && errno != ENOENT) {
    qlog("warning: unable to unlink ", fn("info", id), "\n", (char *)0);
    goto fail;
  }
  fdinfo = open_excl_mode(fn("info", id), 0600);
  if (fdinfo == -1) { qlog("warning: unable to create ", fn("info", id), "\n", (char *)0); goto fail; }
  qlog("new msg ", ulstr(num, id), "\n", (char *)0);

  rc.envnoathost = envnoathost.s;
  rc.percenthack = &mappercenthack;
  rc.locals = &maplocals;
  rc.vdoms = &mapvdoms;
  bio_init(&in, fd, inbuf, sizeof inbuf);
  bio_init(&info, fdinfo, infobuf, sizeof infobuf);
  for (;;) {
    rec.len = 0;
    r = bio_getln(&in, &rec, 0, RECORDMAX);
    if (r == -1 || r == -2 || (r == 0 && rec.len)) {
      qlog("warning: trouble reading ", fn("todo", id), "\n", (char *)0);
      goto fail;
    }
    if (r == 0) break;
    switch (rec.s[0]) {
      case 'u': scan_ulong(rec.s + 1, &uid); break;
      case 'p': scan_ulong(rec.s + 1, &pid); break;
      case 'F':
        if (!bio_put(&info, rec.s, rec.len) || !bio_flush(&info)) {
          qlog("warning: trouble writing to ", fn("info", id), "\n", (char *)0);
          goto fail;
        }
        qlog("info msg ", ulstr(num, id), ": bytes ", ulstr(num2, (unsigned long)st.st_size),
             " from <", LOGSAFE, rec.s + 1, "> qp ", ulstr(num3, pid), " uid ",
             ulstr(num4, uid), "\n", (char *)0);
        break;
      case 'T':
        r = rewrite_rcpt(&addr, rec.s + 1, rec.len - 2, &rc);
        if (!r) { nomem(); goto fail; }
        c = r == REWRITE_LOCAL ? 0 : 1;
        if (ch[c].fd == -1) {
          ch[c].fd = open_excl_mode(fn(chname[c], id), 0600);
          if (ch[c].fd == -1) {
            qlog("warning: unable to create ", fn(chname[c], id), "\n", (char *)0);
            goto fail;
          }
          bio_init(&ch[c].b, ch[c].fd, ch[c].buf, sizeof ch[c].buf);
        }
        if (!bio_put(&ch[c].b, "T", 1) || !bio_put(&ch[c].b, addr.s ? addr.s : "", addr.len)
            || !bio_put(&ch[c].b, "", 1)) {
          qlog("warning: trouble writing to ", fn(chname[c], id), "\n", (char *)0);
          goto fail;
        }
        break;
      default:
        qlog("warning: unknown record type in ", fn("todo", id), "\n", (char *)0);
        goto fail;
    }
  }
  close(fd);
  for (c = 0; c < CHANNELS; ++c)
    if (ch[c].fd != -1 && !bio_flush(&ch[c].b)) {
      qlog("warning: trouble writing to ", fn(chname[c], id), "\n", (char *)0);
      fd = -1;
      goto fail;
    }
  pend[numpend].id = id;
  pend[numpend].fdinfo = fdinfo;
  for (c = 0; c < CHANNELS; ++c) pend[numpend].fdchan[c] = ch[c].fd;
  ++numpend;
  return 1;

fail:
  if (fd != -1) close(fd);
  if (fdinfo != -1) close(fdinfo);
  for (c = 0; c < CHANNELS; ++c) if (ch[c].fd != -1) close(ch[c].fd);
  return 0;
}

/* commit - fsync one pending message, then let qmail-clean remove todo/ */
static void commit(struct pending *p)
{
  prioq_elt pe;
  int c, ok = 1, any = 0;

  /* everything on disk before todo/ goes away; the first fsync of a batch
   * usually commits the others' data too, so the rest are cheap */
  if (fsync(p->fdinfo) == -1) {
    qlog("warning: trouble fsyncing ", fn("info", p->id), "\n", (char *)0);
    ok = 0;
  }
  for (c = 0; c < CHANNELS; ++c)
    if (ok && p->fdchan[c] != -1 && fsync(p->fdchan[c]) == -1) {
      qlog("warning: trouble fsyncing ", fn(chname[c], p->id), "\n", (char *)0);
      ok = 0;
    }
  close(p->fdinfo);
  for (c = 0; c < CHANNELS; ++c) if (p->fdchan[c] != -1) close(p->fdchan[c]);
  if (!ok) return;
  switch (clean_cmd("todo", p->id)) {
    case 0:
      qlog("alert: oh no! lost qmail-clean connection! dying...\n", (char *)0);
      flagexitasap = 1;
      return;
    case '+': break;
    default:
      qlog("warning: qmail-clean unable to clean up ", fn("todo", p->id), "\n", (char *)0);
      return;
  }
  pe.id = p->id;
  pe.dt = recent;
  for (c = 0; c < CHANNELS; ++c)
    if (p->fdchan[c] != -1) {
      any = 1;
      while (!prioq_insert(&pqnew[c], &pe)) nomem();
    }
  if (!any) while (!prioq_insert(&pqdone, &pe)) nomem();
}

static long msec(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void todo_do(void)
{
  struct dirent *e;
  unsigned long id;
  int k;
  long start;

  if (flagexitasap) return;
  if (!tododir) {
    if (!flagtodo && recent < nexttodorun) return;
    flagtodo = 0;
    tododir = opendir("todo");
    if (!tododir) { pausedir("todo"); return; }
    nexttodorun = recent + SLEEP_TODO;
  }
  start = msec();
  numpend = 0;
  for (k = 0; k < TODO_BATCH; ++k) {
    e = readdir(tododir);
    if (!e) { closedir(tododir); tododir = 0; break; }
    if (!qfn_id(e->d_name, &id)) continue;
    todo_write(id);
    if (msec() - start > TODO_BUDGET_MS) break;
  }
  for (k = 0; k < numpend; ++k) {
    if (flagexitasap) {             /* qmail-clean is gone: just close */
      close(pend[k].fdinfo);
      if (pend[k].fdchan[0] != -1) close(pend[k].fdchan[0]);
      if (pend[k].fdchan[1] != -1) close(pend[k].fdchan[1]);
      continue;
    }
    commit(&pend[k]);
  }
  numpend = 0;
}
