/* qmail-send - the parts of qmail-send share this state (doc/scheduler.md).
 * qmail-send.c: controls, signals and the poll() loop; qmail-send-log.c:
 * the activity record; qmail-send-queue.c: queue file names, directory
 * scans and qmail-clean; qmail-send-todo.c: preprocessing of todo/;
 * qmail-send-deliver.c: priority queues, jobs, deliveries through the
 * spawners; qmail-send-bounce.c: bounce/ and bounce messages. */
#ifndef QMAIL_SEND_H
#define QMAIL_SEND_H

#include <dirent.h>
#include <poll.h>
#include <time.h>

#include "cmap.h"
#include "prioq.h"
#include "qfn.h"
#include "sa.h"

#define CHANNELS 2
#define SLEEP_TODO 1500       /* scan todo/ at least this often */
#define SLEEP_FOREVER 86400   /* longest single wait */
#define SLEEP_CLEANUP 3600    /* between scans for abandoned messages */
#define SLEEP_SYSFAIL 123     /* after a system failure, try again in */
#define OSSIFIED 129600       /* 36 hours; more than qmail-queue's 24 */
#define REPORTMAX 10000       /* longest delivery report kept */
#define RECORDMAX 100000      /* longest envelope record read */
#define REMOTEBATCH 100       /* default control/remotebatch */
#define INFO_FINAL 0640       /* info/ mode: committed, only todo/ to remove */

/* qmail-send.c */
extern time_t recent;
extern int flagexitasap;
extern unsigned long lifetime;
extern unsigned long concurrency[CHANNELS];
extern unsigned long remotebatch;      /* remote recipients per delivery */
extern sa envnoathost, bouncefrom, bouncehost, doublebounceto;
extern cmap mappercenthack, maplocals, mapvdoms;

/* qmail-send-log.c: qlog writes its pieces (ending with a null pointer)
 * as one line in one write to fd 0; the piece after LOGSAFE is sanitised */
extern const char LOGSAFE[];
void qlog(const char *s, ...) __attribute__((sentinel));
void nomem(void);                       /* logs, sleeps 10 s */
void pausedir(const char *dir);         /* logs, sleeps 10 s */
const char *ulstr(char *buf, unsigned long u);  /* buf of FMT_ULONG */
long msnow(void);                       /* monotonic milliseconds */

/* qmail-send-queue.c */
typedef struct subdir {
  const char *name;
  unsigned long sub;       /* next split subdirectory */
  DIR *dir;
  char path[QFN_SIZE];
} subdir;
const char *fn(const char *dir, unsigned long id);   /* static buffer */
const char *fn2(const char *dir, unsigned long id);  /* a second one */
void subdir_init(subdir *s, const char *name);
int subdir_next(subdir *s, unsigned long *id);  /* 1 id, 0 done */
struct stat;
int mess_unlocked(unsigned long id, struct stat *st); /* 1, 0 locked, -1 */
extern int flagcleanalive;
void clean_lost(void);                  /* logs once, stops scheduling */
int clean_do(const char *dir, unsigned long id); /* 1 done, 0 not (logged) */
void clean_prep(struct pollfd *p, nfds_t *n, int *idx);
void clean_check(const struct pollfd *p, int idx);
void cleanup_init(void);
void cleanup_now(void);                 /* start a scan of mess/ */
void cleanup_prep(time_t *wakeup);
void cleanup_do(void);

/* qmail-send-todo.c: a message preprocessed and not committed is held in
 * memory (see there); its files do not exist yet */
typedef struct memmsg {
  unsigned long id;
  time_t birth;
  sa sender;                  /* with its NUL, as getinfo gives it */
  sa list[CHANNELS];          /* T and D records, as local/ and remote/ */
  int has[CHANNELS];          /* the list is there: not all done yet */
} memmsg;
extern int triggerfd;
void todo_init(void);
void todo_prep(time_t *wakeup);
void todo_timeout(long *ms);            /* lowers *ms to the next commit */
void todo_triggered(void);
void todo_do(void);
memmsg *todo_mem(unsigned long id);     /* not committed yet, or 0 */
int todo_release(memmsg *m);            /* finished: remove todo/id; 0 trouble */
void todo_commit(memmsg *m);            /* to the files with it now */
void todo_exit(void);                   /* commit everything */

/* qmail-send-deliver.c */
extern prioq pqchan[CHANNELS], pqnew[CHANNELS], pqdone, pqfail;
extern int flagspawnalive[CHANNELS];
int getinfo(sa *sender, time_t *birth, unsigned long id);
void del_init(const unsigned long limit[CHANNELS]);
void del_status(void);
int del_canexit(void);
void del_prep(struct pollfd *p, nfds_t *n, int *idx, time_t *wakeup);
void del_timeout(long *ms);             /* lowers *ms to the next mark flush */
void del_do(const struct pollfd *p, const int *idx);
void del_startall(void);                /* start what the concurrency allows */
void del_exit(void);                    /* flush the marks */
void del_committed(unsigned long id);   /* its memmsg becomes its files */
void pq_add(unsigned long id);
void pq_start(void);
void pq_finish(void);
void pq_run(void);
void pq_do(void);

/* qmail-send-bounce.c */
void addbounce(unsigned long id, const char *recip, const char *report, size_t len);
int injectbounce(unsigned long id);      /* 1 done, 0 try later */

#endif
