#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "bio.h"
#include "open.h"
#include "say.h"
#include "scan.h"

static void trim(sa *line)
{
  while (line->len) {
    char c = line->s[line->len - 1];
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') break;
    --line->len;
  }
}

/* readall - every line of fn through keep(); 1, 0 missing, -1 error */
static int readlines(const char *fn, sa *out, int first)
{
  char buf[1024];
  bio b;
  sa line = SA_ZERO;
  int fd, r, e;

  out->len = 0;
  fd = open_read(fn);
  if (fd == -1) return errno == ENOENT ? 0 : -1;
  bio_init(&b, fd, buf, sizeof buf);
  for (;;) {
    line.len = 0;
    r = bio_getln(&b, &line, '\n', 0);
    if (r == -1) goto fail;
    if (r == 0 && line.len == 0) break;
    trim(&line);
    if (first) {
      if (!sa_copyb(out, line.s ? line.s : "", line.len)) goto fail;
      break;
    }
    if (line.len && line.s[0] != '#') {
      if (!sa_catb(out, line.s, line.len) || !sa_0(out)) goto fail;
    }
    if (r == 0) break;
  }
  if (!out->s && !sa_copyb(out, "", 0)) goto fail;
  close(fd);
  sa_free(&line);
  return 1;
fail:
  e = errno;
  close(fd);
  sa_free(&line);
  errno = e;
  return -1;
}

int control_readline(sa *out, const char *fn)
{
  return readlines(fn, out, 1);
}

int control_rldef(sa *out, const char *fn, const char *def)
{
  int r = control_readline(out, fn);
  if (r == -1) return -1;
  if (r == 1 && out->len) return 1;
  if (def) { if (!sa_copys(out, def)) return -1; }
  else out->len = 0;
  return 0;
}

int control_me(sa *out)
{
  char host[256];
  int r = control_readline(out, "control/me");
  if (r == -1) return -1;
  if (r == 1 && out->len) return 1;
  if (gethostname(host, sizeof host - 1) == -1) return -1;
  host[sizeof host - 1] = 0;
  if (!sa_copys(out, host)) return -1;
  return 2;
}

/* number - the first line of fn as a decimal number: 1 read, 0 missing
 * or empty,
 * 2 not a number (line holds it, NUL-terminated), -1 error */
static int number(unsigned long *u, const char *fn, sa *line)
{
  unsigned long v;
  size_t n;
  int r = control_readline(line, fn);

  if (r != 1) return r;
  if (!line->len) return 0;     /* an empty first line means the default */
  if (!sa_0(line)) return -1;
  n = scan_ulong(line->s, &v);
  if (!n || line->s[n]) return 2;
  *u = v;
  return 1;
}

int control_readnum(unsigned long *u, const char *fn, control_warnfn *warn)
{
  sa line = SA_ZERO;
  int r = number(u, fn, &line);

  if (r == 2 && warn) warn(fn, line.s);
  sa_free(&line);
  return r;
}

void control_warn2(const char *fn, const char *value)
{
  say(2, "warning: ", fn, " holds `", value, "', which is not a number; using the default\n", NULL);
}

int control_readfile(sa *out, const char *fn)
{
  return readlines(fn, out, 0);
}
