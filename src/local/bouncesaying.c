/* bouncesaying - bounce with a given text, perhaps only when a program
 * says so (bouncesaying(1)). Without a program it always bounces; with
 * one, its exit 0 bounces, 111 defers, anything else (or a program that
 * cannot be executed) lets the rest of .qmail go on. */
#include <stddef.h>

#include "run.h"
#include "say.h"

#define FATAL "bouncesaying: fatal: "

int main(int argc, char **argv)
{
  int code;

  if (argc < 2) die(100, "bouncesaying: usage: bouncesaying error [ program [ arg ... ] ]\n", NULL);
  if (argc > 2) {
    code = run_prog(argv + 2);
    if (code == -1) die(111, FATAL, "unable to run ", argv[2], ": ", say_errno(), "\n", NULL);
    if (code == RUN_CRASH) die(111, FATAL, argv[2], " crashed\n", NULL);
    if (code == 111) return 111;
    if (code != 0) return 0;
  }
  say(1, argv[1], "\n", NULL);
  return 100;
}
