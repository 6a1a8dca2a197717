/* ucspi-tlsd-front - hand a connection to the resident TLS engine.
 * Usage: ucspi-tlsd-front [-i] [-h secs] [-t secs] prog...
 * The same server side as ucspi-tlsd's, for tcpserver to run, but linked
 * with libc alone (static where musl is there): an exec of ucspi-tlsd
 * loads libssl and libcrypto, which costs more CPU than the rest of the
 * session's TLS once the engine has the context (bench/README.md). With
 * $TLSENGINE naming the socket of ucspi-tlsd -d, it hands the connection
 * over and becomes prog; with it unset, or the engine not there, it runs
 * ucspi-tlsd with the same arguments, which does TLS itself
 * (ucspi-tlsd-front(8)). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"
#include "prog.h"
#include "say.h"
#include "auto.h"

const char *tls_prog = "ucspi-tlsd-front";

static noreturn void usage(void)
{
  die(100, "ucspi-tlsd-front: usage: ucspi-tlsd-front [-i] [-h secs] [-t secs] prog...\n", NULL);
}

/* tlsd - run ucspi-tlsd from our home with argv as it was given */
static noreturn void tlsd(char **argv)
{
  static const char bin[] = "/bin/ucspi-tlsd";
  size_t l = strlen(auto_home);
  char *path = malloc(l + sizeof bin);
  if (!path) die(111, "ucspi-tlsd-front: fatal: out of memory\n", NULL);
  memcpy(path, auto_home, l);
  memcpy(path + l, bin, sizeof bin);
  argv[0] = (char *)"ucspi-tlsd";
  execv(path, argv);
  die(111, "ucspi-tlsd-front: fatal: unable to run ", path, ": ", say_errno(), "\n", NULL);
}

int main(int argc, char **argv)
{
  unsigned hsecs = 30, idle = 1200;
  int opt, immed = 0;
  const char *engine;

  while ((opt = getopt(argc, argv, "+ih:t:")) != -1)
    switch (opt) {
      case 'i': immed = 1; break;
      case 'h': if (!(hsecs = scan_secs(optarg))) usage(); break;
      case 't': if (!(idle = scan_secs(optarg))) usage(); break;
      default: usage();
    }
  if (optind >= argc) usage();
  engine = getenv("TLSENGINE");
  if (engine && *engine) {
    plan_ids();
    handoff(engine, immed, hsecs, idle, argv + optind);
  }
  tlsd(argv);
}
