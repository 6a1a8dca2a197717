/* except - run a program and turn its success into a bounce
 * (except(1)): 0 becomes 100, 111 stays 111, anything else becomes 0. */
#include <stddef.h>

#include "run.h"
#include "say.h"

#define FATAL "except: fatal: "

int main(int argc, char **argv)
{
  int code;

  if (argc < 2) die(100, "except: usage: except program [ arg ... ]\n", NULL);
  code = run_prog(argv + 1);
  if (code == -1) die(111, FATAL, "unable to run ", argv[1], ": ", say_errno(), "\n", NULL);
  if (code == RUN_CRASH) die(111, FATAL, argv[1], " crashed\n", NULL);
  if (code == 0) return 100;
  if (code == 111) return 111;
  return 0;
}
