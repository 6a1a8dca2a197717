/* preline - feed the message to a program with the From_, Return-Path
 * and Delivered-To lines of qmail-local ($UFLINE, $RPLINE, $DTLINE) on
 * top (preline(1)); -f, -r and -d leave each of them out. The exit code
 * is the program's. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "bio.h"
#include "run.h"
#include "say.h"
#include "sig.h"

#define FATAL "preline: fatal: "

static noreturn void die_usage(void)
{
  die(100, "preline: usage: preline [ -dfr ] program [ arg ... ]\n", NULL);
}

static const char *need(const char *name)
{
  const char *x = getenv(name);
  if (!x) die(100, FATAL, name, " not set\n", NULL);
  return x;
}

int main(int argc, char **argv)
{
  int flagufline = 1, flagrpline = 1, flagdtline = 1;
  const char *ufline = "", *rpline = "", *dtline = "";
  char buf[BIO_SIZE], outbuf[BIO_SIZE];
  bio in, out;
  run r;
  int p[2], i, code;

  sig_ignore(SIGPIPE);
  for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
    const char *o = argv[i] + 1;
    if (o[0] == '-' && !o[1]) { ++i; break; }
    for (; *o; ++o)
      switch (*o) {
        case 'f': flagufline = 0; break;
        case 'r': flagrpline = 0; break;
        case 'd': flagdtline = 0; break;
        default: die_usage();
      }
  }
  if (i >= argc) die_usage();
  if (flagufline) ufline = need("UFLINE");
  if (flagrpline) rpline = need("RPLINE");
  if (flagdtline) dtline = need("DTLINE");

  if (pipe2(p, O_CLOEXEC) == -1) die(111, FATAL, "unable to make pipe: ", say_errno(), "\n", NULL);
  run_start(&r, argv + i, p[0]);
  close(p[0]);
  bio_init(&out, p[1], outbuf, sizeof outbuf);
  bio_init(&in, 0, buf, sizeof buf);
  /* a program that stops reading early is its own business: its exit
   * code decides, so a write error here is not a failure */
  if (bio_puts(&out, ufline) && bio_puts(&out, rpline) && bio_puts(&out, dtline)) {
    int c = bio_copy(&out, &in);
    if (c == -1) {
      /* a short message must not look whole to the program */
      if (r.pid > 0) kill(r.pid, SIGKILL);
      die(111, FATAL, "unable to read message: ", say_errno(), "\n", NULL);
    }
    if (c == 1) bio_flush(&out);
  }
  close(p[1]);
  code = run_wait(&r);
  if (code == -1) die(111, FATAL, "unable to run ", argv[i], ": ", say_errno(), "\n", NULL);
  if (code == RUN_NOEXEC) die(111, FATAL, "unable to run ", argv[i], ": ", say_errno(), "\n", NULL);
  if (code == RUN_CRASH) die(111, FATAL, argv[i], " crashed\n", NULL);
  return code;
}
