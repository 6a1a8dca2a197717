/* splogger - copy lines from stdin to syslog, as qmail-start's logger.
 * Each line goes out as "SECONDS.MICROSECONDS text" under the tag; a line
 * longer than PIECE bytes is cut, and each further piece is sent as
 * "SECONDS.MICROSECONDS+text" with the same stamp. Bytes outside printable
 * ASCII become '?', blank lines are dropped, and the priority comes from
 * an "alert:" or "warning:" prefix. syslog(3) drops lines without a word
 * when no syslog daemon listens, so splogger checks for one at start and
 * exits 111 with a message on stderr when there is none. */
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "scan.h"
#include "str.h"

#define PIECE 799  /* syslog implementations choke on long lines */

static char piece[PIECE + 1];
static size_t plen;
static int flagcont;       /* the current line has been partly sent */
static int priority;       /* of the current line, once flagcont */
static char stamp[2 * FMT_ULONG + 2];

static void stamp_make(void)
{
  struct timeval tv;
  size_t n;

  gettimeofday(&tv, 0);
  n = fmt_ulong(stamp, (unsigned long)tv.tv_sec);
  stamp[n++] = '.';
  n += fmt_ulong0(stamp + n, (unsigned long)tv.tv_usec, 6);
  stamp[n] = 0;
}

/* emit - the buffered piece, if any, to syslog */
static void emit(void)
{
  if (!plen) return;
  piece[plen] = 0;
  if (!flagcont) {
    stamp_make();
    priority = LOG_INFO;
    if (str_starts(piece, "warning:")) priority = LOG_WARNING;
    if (str_starts(piece, "alert:")) priority = LOG_ALERT;
    syslog(priority, "%s %s", stamp, piece);
    flagcont = 1;
  }
  else
    syslog(priority, "%s+%s", stamp, piece);
  plen = 0;
}

/* listening - 1 when a syslog daemon takes datagrams or a stream on
 * _PATH_LOG, as syslog(3) tries them */
static int listening(void)
{
  struct sockaddr_un sun;
  int types[2] = { SOCK_DGRAM, SOCK_STREAM }, i, fd, ok;

  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  if (strlen(_PATH_LOG) >= sizeof sun.sun_path) return 0;
  strcpy(sun.sun_path, _PATH_LOG);
  for (i = 0; i < 2; ++i) {
    fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
    if (fd == -1) continue;
    ok = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    if (ok) return 1;
  }
  return 0;
}

static noreturn void usage(void)
{
  die(100, "splogger: usage: splogger [ tag [ facility ] ]\n", NULL);
}

int main(int argc, char **argv)
{
  char buf[BIO_SIZE];
  bio in = BIO_INIT(0, buf, sizeof buf);
  const char *tag = "splogger";
  unsigned long fac = 2;  /* LOG_MAIL >> 3 */
  size_t n, i;
  ssize_t r;

  if (argc > 3) usage();
  if (argc > 1) tag = argv[1];
  if (argc > 2) {
    n = scan_ulong(argv[2], &fac);
    if (!n || argv[2][n] || fac > 23) usage();
  }
  if (!listening())
    die(111, "splogger: fatal: no syslog daemon listens on " _PATH_LOG ": ", say_errno(),
        "; start one (rsyslog) or log with multilog instead\n", NULL);
  openlog(tag, 0, (int)(fac << 3));

  for (;;) {
    r = bio_feed(&in);
    if (r == -1) die(111, "splogger: fatal: unable to read input: ", say_errno(), "\n", NULL);
    if (r == 0) break;
    for (i = 0; i < (size_t)r; ++i) {
      char c = bio_peek(&in)[i];
      if (c == '\n') { emit(); flagcont = 0; continue; }
      if (plen == PIECE) emit();
      piece[plen++] = (c >= 32 && c <= 126) ? c : '?';
    }
    bio_skip(&in, (size_t)r);
  }
  emit();  /* a last line without its newline is still logged */
  closelog();
  return 0;
}
