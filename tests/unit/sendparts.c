/* qmail-send's parts linked from its part library: the scheduler's
 * queues (qmail-send-sched.c), the activity record (qmail-send-log.c) and
 * the preprocessing of todo/ into memory with its bookkeeping
 * (qmail-send-todo.c). This file stands in for qmail-send.c: the clock is
 * set by the tests, and fd 0, the log, is a pipe the tests read. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "auto.h"
#include "qmail-send.h"

/* ---- what qmail-send.c gives its parts ---- */

static send_controls ctl;
static time_t now = 1000000;
static long ms = 5000;
static int exiting;

const send_controls *send_ctl(void) { return &ctl; }
time_t send_now(void) { return now; }
long send_ms(void) { return ms; }
int send_exiting(void) { return exiting; }
void send_exit(void) { exiting = 1; }

/* logto - fd 0 becomes a pipe; the old fd 0 comes back with logdone */
static int logpipe[2], oldfd0;

static int logto(void)
{
  if (pipe(logpipe) == -1) return 0;
  fcntl(logpipe[0], F_SETFL, O_NONBLOCK);
  oldfd0 = dup(0);
  return oldfd0 != -1 && dup2(logpipe[1], 0) == 0;
}

/* logdone - what was logged, NUL-terminated in buf */
static size_t logdone(char *buf, size_t size)
{
  ssize_t r;
  size_t n = 0;
  dup2(oldfd0, 0);
  close(oldfd0);
  close(logpipe[1]);
  while (n + 1 < size && (r = read(logpipe[0], buf + n, size - 1 - n)) > 0) n += (size_t)r;
  buf[n] = 0;
  close(logpipe[0]);
  return n;
}

/* ---- the scheduler's queues ---- */

static unsigned long take(int c)
{
  unsigned long id;
  return sched_take(c, &id) ? id : 0;
}

TEST(sched_fresh_and_retries_take_turns)
{
  static const int local[CHANNELS] = { 1, 0 }, both[CHANNELS] = { 1, 1 };

  sched_retry(0, 2, now - 10);
  sched_retry(0, 3, now - 5);
  sched_new(1, local);
  sched_new(4, local);
  /* both kinds due: a retry, a fresh one, in turn, each earliest first */
  CHECK(sched_ready(0));
  CHECK(take(0) == 2);
  CHECK(take(0) == 1);
  CHECK(take(0) == 3);
  CHECK(take(0) == 4);
  CHECK(!sched_ready(0) && take(0) == 0);
  CHECK(!sched_ready(1));
  /* a message with two lists is due on both channels, once on each */
  sched_new(7, both);
  CHECK(take(1) == 7 && take(1) == 0);
  CHECK(take(0) == 7 && take(0) == 0);
  /* only fresh ones: they go out one after another */
  sched_new(8, local);
  sched_new(9, local);
  CHECK(take(0) == 8 && take(0) == 9 && take(0) == 0);
}

TEST(sched_retry_waits_until_due_or_alarm)
{
  time_t w = now + SLEEP_FOREVER;

  sched_retry(1, 5, now + 100);
  sched_retry(1, 6, now + 50);
  CHECK(!sched_ready(1) && take(1) == 0);
  sched_due(1, &w);
  CHECK(w == now + 50);
  sched_due(0, &w);                  /* nothing there: unchanged */
  CHECK(w == now + 50);
  now += 60;
  CHECK(take(1) == 6 && take(1) == 0);
  /* SIGALRM: every retry due now */
  sched_runall();
  CHECK(take(1) == 5 && take(1) == 0);
  now -= 60;
}

TEST(sched_no_list_goes_to_done)
{
  static const int none[CHANNELS] = { 0, 0 };
  time_t w = now + SLEEP_FOREVER;

  sched_new(11, none);
  CHECK(!sched_ready(0) && !sched_ready(1));
  sched_wakeup(&w);
  CHECK(w == now);
  /* finishing it looks at files: with none of them there, nothing
   * happens and nothing is logged */
  CHECK(logto());
  sched_do();
  {
    char buf[256];
    CHECK(logdone(buf, sizeof buf) == 0);
  }
  w = now + SLEEP_FOREVER;
  sched_wakeup(&w);
  CHECK(w == now + SLEEP_FOREVER);
}

/* ---- the activity record ---- */

TEST(log_line_is_one_line_with_data_made_safe)
{
  char buf[256], num[FMT_ULONG];

  CHECK(logto());
  log_line("delivery ", log_ul(num, 42), ": success: ", LOG_SAFE, "a b\nc%d\001", "/did_0_\n", NULL);
  /* a data piece that looks like the marker is still data */
  log_line("x ", LOG_SAFE, LOG_SAFE, " y\n", NULL);
  logdone(buf, sizeof buf);
  CHECK(!strcmp(buf, "delivery 42: success: a_b/c_d_/did_0_\nx _ y\n"));
}

/* ---- todo/: preprocessing into memory ---- */

static int writefile(const char *f, const char *s, size_t n)
{
  int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int ok = fd != -1 && write(fd, s, n) == (ssize_t)n;
  if (fd != -1) close(fd);
  return ok;
}

/* a queue of one message in a new directory, made the current one */
struct tmpq {
  char dir[32], old[4096], sub[FMT_ULONG + 8];
  unsigned long id;
};

static int tmpq_make(struct tmpq *q, unsigned long id, const char *mess, const char *env, size_t n)
{
  char f[QFN_SIZE];
  strcpy(q->dir, "/tmp/sendparts.XXXXXX");
  q->id = id;
  if (!getcwd(q->old, sizeof q->old) || !mkdtemp(q->dir) || chdir(q->dir) == -1) return 0;
  if (mkdir("todo", 0700) == -1 || mkdir("mess", 0700) == -1) return 0;
  strcpy(q->sub, "mess/");
  log_ul(q->sub + 5, id % auto_split);
  return mkdir(q->sub, 0700) == 0 && writefile(queue_fn(f, "mess", id), mess, strlen(mess))
      && writefile(queue_fn(f, "todo", id), env, n);
}

static int tmpq_remove(struct tmpq *q)
{
  char f[QFN_SIZE];
  unlink(queue_fn(f, "todo", q->id));
  unlink(queue_fn(f, "mess", q->id));
  rmdir(q->sub);
  rmdir("mess");
  rmdir("todo");
  return chdir(q->old) == 0 && rmdir(q->dir) == 0;
}

static int eqsa(const sa *x, const char *s, size_t n)
{
  return x->len == n && !memcmp(x->s, s, n);
}

TEST(todo_preprocesses_into_two_lists)
{
  static const char env[] = "u1000\0p77\0Fbob@else.example\0Tann\0Tx@remote.example\0"
                            "Tjoe@here.example\0Ty@Remote.example\0";
  struct tmpq q;
  char buf[4096];
  struct pollfd p[POLLMAX];
  nfds_t n = 0;
  time_t w = now + SLEEP_FOREVER, birth;
  todo_msg *m;
  sa s = SA_ZERO;
  unsigned long id = 5;
  size_t pos;

  CHECK(cmap_init(&ctl.locals, "here.example\0", 13, 0));
  CHECK(cmap_init(&ctl.percenthack, "", 0, 0));
  CHECK(cmap_init(&ctl.vdoms, "", 0, 1));
  CHECK(sa_copys(&ctl.envnoathost, "here.example") && sa_0(&ctl.envnoathost));
  --ctl.envnoathost.len;
  CHECK(tmpq_make(&q, id, "Subject: x\n\nhi\n", env, sizeof env - 1));

  CHECK(logto());
  todo_init();
  todo_poll(p, &n, &w);
  CHECK(n == 0 && w == 0);           /* no trigger FIFO; a scan is due */
  todo_do(p);
  logdone(buf, sizeof buf);
  CHECK(!strcmp(buf, "new msg 5\ninfo msg 5: bytes 15 from <bob@else.example> qp 77 uid 1000\n"));

  m = todo_find(id);
  CHECK(m != 0);
  if (m) {
    /* ann gets @envnoathost; here.example is local; the rest remote */
    CHECK(eqsa(todo_list(m, 0), "Tann@here.example\0Tjoe@here.example\0", 36));
    CHECK(eqsa(todo_list(m, 1), "Tx@remote.example\0Ty@Remote.example\0", 36));
    CHECK(todo_info(m, &s, &birth) && eqsa(&s, "bob@else.example", 17) && birth == now);
    CHECK(queue_info(id, &s, &birth) && eqsa(&s, "bob@else.example", 17));
    /* the scheduler has it, fresh, on both channels */
    CHECK(take(0) == id && take(1) == id && take(0) == 0);
    /* a mark is a D in memory at the record's offset */
    pos = 18;                          /* Tjoe@... */
    todo_mark(m, 0, (off_t)pos);
    CHECK(todo_list(m, 0)->s[pos] == 'D' && todo_list(m, 0)->s[0] == 'T');
    todo_mark(m, 0, 1000);             /* out of range: ignored */
    CHECK(todo_pending(m));
    CHECK(!todo_listdone(m, 1));
    CHECK(todo_pending(m));
    CHECK(todo_listdone(m, 0));
    CHECK(!todo_pending(m));
  }
  /* a second scan does not preprocess it again */
  CHECK(logto());
  todo_init();
  n = 0;
  todo_poll(p, &n, &w);
  todo_do(p);
  CHECK(logdone(buf, sizeof buf) == 0);
  CHECK(take(0) == 0 && take(1) == 0);

  CHECK(tmpq_remove(&q));
  sa_free(&s);
}

TEST(todo_refuses_unknown_records)
{
  static const char env[] = "Fbob@else.example\0Xwhat\0Tann\0";
  struct tmpq q;
  char buf[4096];
  struct pollfd p[POLLMAX];
  nfds_t n = 0;
  time_t w = now + SLEEP_FOREVER;
  unsigned long id = 28;

  CHECK(tmpq_make(&q, id, "x\n", env, sizeof env - 1));
  CHECK(logto());
  todo_init();
  todo_poll(p, &n, &w);
  todo_do(p);
  logdone(buf, sizeof buf);
  CHECK(!strcmp(buf, "new msg 28\ninfo msg 28: bytes 2 from <bob@else.example> qp 0 uid 0\n"
                     "warning: unknown record type in todo/28\n"));
  /* left for later, not in memory, nothing scheduled */
  CHECK(!todo_find(id) && take(0) == 0 && take(1) == 0);
  CHECK(tmpq_remove(&q));
}

/* ---- qmail-clean's protocol, many commands at once ---- */

/* fakeclean - a stand-in qmail-clean behind fds 5 and 6: it answers '+'
 * to the first `answer` commands, then exits without a word */
static pid_t fakeclean(int answer)
{
  int in[2], out[2], nul = open("/dev/null", O_RDWR);
  pid_t pid;

  /* 5 and 6 taken first, so that the pipes get other numbers */
  if (nul == -1 || dup2(nul, 5) == -1 || dup2(nul, 6) == -1) return -1;
  if (nul != 5 && nul != 6) close(nul);
  if (pipe(in) == -1 || pipe(out) == -1) return -1;
  pid = fork();
  if (pid == 0) {
    char c;
    int done = 0;
    close(in[1]);
    close(out[0]);
    while (done < answer && read(in[0], &c, 1) == 1)
      if (!c && write(out[1], "+", 1) == 1) ++done;
    _exit(0);
  }
  close(in[0]);
  close(out[1]);
  if (dup2(in[1], 5) == -1 || dup2(out[0], 6) == -1) return -1;
  close(in[1]);
  close(out[0]);
  return pid;
}

TEST(clean_many_one_exchange_and_a_death_midway)
{
  static const unsigned long ids[3] = { 11, 12, 13 };
  int ok[3] = { 0, 0, 0 }, save5 = dup(5), save6 = dup(6), st;
  char f[QFN_SIZE];
  pid_t pid;
  struct tmpq q;

  signal(SIGPIPE, SIG_IGN);
  pid = fakeclean(64);
  CHECK(pid > 0);
  clean_many("todo", ids, 3, ok);
  CHECK(ok[0] == 1 && ok[1] == 1 && ok[2] == 1 && clean_alive() && !exiting);
  close(5);
  close(6);
  waitpid(pid, &st, 0);
  /* it dies after one answer: todo/12 still there was not removed, the
   * missing todo/13 was */
  CHECK(tmpq_make(&q, 12, "m\n", "F\0", 2));
  pid = fakeclean(1);
  CHECK(pid > 0);
  clean_many("todo", ids, 3, ok);
  CHECK(ok[0] == 1);
  CHECK(ok[1] == 0);
  CHECK(ok[2] == 1);
  CHECK(!clean_alive() && exiting);
  close(5);
  close(6);
  waitpid(pid, &st, 0);
  unlink(queue_fn(f, "todo", 13));
  CHECK(tmpq_remove(&q));
  if (save5 != -1) { dup2(save5, 5); close(save5); }
  if (save6 != -1) { dup2(save6, 6); close(save6); }
  exiting = 0;
}
