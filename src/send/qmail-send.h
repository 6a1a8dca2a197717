/* qmail-send - the interface between the parts of qmail-send
 * (doc/scheduler.md). Each part keeps its state static in its own file
 * and is reached only through the functions below, named after it:
 *
 *   send_   qmail-send.c         controls, signals, the clock, the poll() loop
 *   log_    qmail-send-log.c     the activity record on fd 0
 *   queue_  qmail-send-queue.c   queue file names, split-directory scans,
 *                                mess/ locks, a message's sender and birth
 *   clean_  qmail-send-clean.c   qmail-clean on fds 5/6 (the one place that
 *                                learns it is gone) and the scan of mess/
 *                                for messages abandoned by qmail-queue
 *   todo_   qmail-send-todo.c    todo/: preprocessing into memory, the
 *                                messages held there, their commit
 *   sched_  qmail-send-sched.c   the priority queues: which message is due
 *                                on which channel, and finishing messages
 *   del_    qmail-send-deliver.c the two channels: passes over recipient
 *                                lists, jobs, deliveries through the spawners
 *   mark_   qmail-send-mark.c    T-to-D marks and their delayed fsync
 *   bounce_ qmail-send-bounce.c  bounce/ and bounce messages
 *
 * Who calls whom: send_ runs the loop and calls each part's poll/do pair.
 * todo_ hands a new message to sched_ (sched_new); del_ takes due
 * messages from sched_ (sched_take) and gives them back (sched_retry,
 * sched_finished); sched_ finishes a message through bounce_, todo_ and
 * clean_. A message not committed yet lives in todo_'s memory (todo_msg):
 * the other parts read and mark it only through todo_ functions. */
#ifndef QMAIL_SEND_H
#define QMAIL_SEND_H

#include <dirent.h>
#include <poll.h>
#include <sys/types.h>
#include <time.h>

#include "cmap.h"
#include "qfn.h"
#include "sa.h"

#define CHANNELS 2            /* 0 local, 1 remote */
#define SLEEP_TODO 1500       /* scan todo/ at least this often */
#define SLEEP_FOREVER 86400   /* longest single wait */
#define SLEEP_CLEANUP 3600    /* between scans for abandoned messages */
#define SLEEP_SYSFAIL 123     /* after a system failure, try again in */
#define OSSIFIED 129600       /* 36 hours; more than qmail-queue's 24 */
#define REPORTMAX 10000       /* longest delivery report kept */
#define RECORDMAX 100000      /* longest envelope record read */
#define REMOTEBATCH 100       /* default control/remotebatch */
#define INFO_FINAL 0640       /* info/ mode: committed, only todo/ to remove */
#define POLLMAX 8             /* descriptors the parts add to one poll() */

/* qmail-send.c: the controls, read at start; SIGHUP rereads the maps
 * and the concurrency (del_setconcurrency) */
typedef struct send_controls {
  unsigned long lifetime;                 /* queuelifetime */
  unsigned long concurrency[CHANNELS];    /* as read, before the spawners' caps */
  unsigned long remotebatch;              /* remote recipients per delivery */
  sa envnoathost, bouncefrom, bouncehost;
  sa doublebounceto;                      /* with the doublebouncehost */
  cmap percenthack, locals, vdoms;
} send_controls;
const send_controls *send_ctl(void);
time_t send_now(void);                  /* the clock, read once a turn */
long send_ms(void);                     /* monotonic milliseconds */
int send_exiting(void);                 /* schedule nothing new */
void send_exit(void);                   /* finish what runs, then exit */

/* qmail-send-log.c: log_line writes its pieces (ending with a null
 * pointer) as one line in one write to fd 0; the piece after LOG_SAFE is
 * sanitised. A failed write is dropped. */
#define LOG_SAFE "\001"
void log_line(const char *s, ...) __attribute__((sentinel));
void log_nomem(void);                   /* logs, sleeps 10 s */
void log_pausedir(const char *dir);     /* logs, sleeps 10 s */
const char *log_ul(char *buf, unsigned long u);  /* buf of FMT_ULONG */

/* qmail-send-queue.c: names go into the caller's buffer of QFN_SIZE */
typedef struct queue_scan {
  const char *name;
  unsigned long sub;       /* next split subdirectory */
  DIR *dir;
  char path[QFN_SIZE];
} queue_scan;
const char *queue_fn(char *buf, const char *dir, unsigned long id);  /* buf */
const char *queue_chan(int c);          /* "local" or "remote" */
void queue_scan_init(queue_scan *s, const char *name);
int queue_scan_next(queue_scan *s, unsigned long *id);  /* 1 id, 0 done */
struct stat;
int queue_unlocked(unsigned long id, struct stat *st); /* 1, 0 locked, -1 */
/* queue_info - sender (with its NUL) and birth of id, from memory or
 * info/; 1, or 0 (errno) */
int queue_info(unsigned long id, sa *sender, time_t *birth);

/* qmail-send-clean.c: once qmail-clean is lost (logged once) nothing is
 * removed and nothing new is scheduled; qmail-send finishes and exits */
int clean_alive(void);
int clean_cmd(const char *dir, unsigned long id); /* 1 done, 0 not (logged) */
#define CLEAN_MANY 64           /* commands clean_many sends at once */
void clean_many(const char *dir, const unsigned long *ids, size_t n, int *ok);
void clean_poll(struct pollfd *p, nfds_t *n);
void clean_polled(const struct pollfd *p);      /* before anything is scheduled */
void clean_sweep_init(void);
void clean_sweep_now(void);             /* start a scan of mess/ */
void clean_sweep_wakeup(time_t *wakeup);
void clean_sweep_do(void);

/* qmail-send-todo.c: a message preprocessed and not committed is held in
 * memory; its info and list files do not exist yet */
typedef struct todo_msg todo_msg;
void todo_init(void);
void todo_poll(struct pollfd *p, nfds_t *n, time_t *wakeup);
void todo_timeout(long *ms);            /* lowers *ms to the next commit */
void todo_do(const struct pollfd *p);
todo_msg *todo_find(unsigned long id);  /* not committed yet, or 0 */
int todo_info(const todo_msg *m, sa *sender, time_t *birth);  /* 1, 0 ENOMEM */
const sa *todo_list(const todo_msg *m, int c);  /* T and D records */
void todo_mark(todo_msg *m, int c, off_t pos);  /* its T becomes D */
int todo_listdone(todo_msg *m, int c);  /* list c finished; 1 no list left */
int todo_pending(const todo_msg *m);    /* 1 some list is left */
void todo_started(todo_msg *m);         /* a pass takes it: deliveries start */
void todo_commit(todo_msg *m);          /* to the files with it now */
int todo_release(todo_msg *m);          /* finished: remove todo/id; 0 trouble */
void todo_exit(void);                   /* commit everything */

/* qmail-send-sched.c */
void sched_start(void);                 /* every committed message of info/ */
void sched_new(unsigned long id, const int has[CHANNELS]);  /* from todo/ */
int sched_ready(int c);                 /* 1: a message is due on c */
int sched_take(int c, unsigned long *id);  /* 1: id is due on c, taken */
void sched_due(int c, time_t *wakeup);  /* lowers *wakeup to c's next */
void sched_retry(int c, unsigned long id, time_t when);
void sched_finished(unsigned long id, time_t when);  /* no list left */
void sched_runall(void);                /* every retry due now */
void sched_wakeup(time_t *wakeup);
void sched_do(void);
void sched_finish(void);                /* at exit: retry times as mtimes */

/* qmail-send-deliver.c */
void del_init(const unsigned long limit[CHANNELS]);
void del_setconcurrency(const unsigned long conc[CHANNELS]);  /* capped */
void del_status(void);
int del_canexit(void);
void del_poll(struct pollfd *p, nfds_t *n, time_t *wakeup);
void del_do(const struct pollfd *p);
void del_startall(void);                /* start what the concurrency allows */
int del_idle(int c);                    /* channel c's spawner is there and runs no delivery */
void del_committed(unsigned long id);   /* its todo_msg became its files */

/* qmail-send-mark.c */
void mark_done(int c, unsigned long id, off_t pos);
void mark_drop(int c, unsigned long id); /* the list goes: no fsync needed */
void mark_flush(int force);             /* fsync the marks: all, or when due */
void mark_timeout(long *ms);            /* lowers *ms to the next flush */

/* qmail-send-bounce.c */
void bounce_add(unsigned long id, const char *recip, const char *report, size_t len);
int bounce_inject(unsigned long id);    /* 1 done, 0 try later */

#endif
