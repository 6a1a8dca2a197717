#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "grow.h"

struct test { const char *name; void (*f)(void); };
static struct test *tests;
static size_t ntests, atests;
static int lost;        /* a test could not be registered: the run fails */
static int failed_now;

void harness_add(const char *name, void (*f)(void))
{
  struct test *t = grow(tests, &atests, ntests + 1, sizeof *t);
  if (!t) { lost = 1; return; }
  tests = t;
  tests[ntests].name = name;
  tests[ntests].f = f;
  ++ntests;
}

void harness_fail(const char *file, int line, const char *what)
{
  printf("  %s:%d: CHECK(%s) failed\n", file, line, what);
  failed_now = 1;
}

static int byname(const void *a, const void *b)
{
  return strcmp(((const struct test *)a)->name, ((const struct test *)b)->name);
}

int main(int argc, char **argv)
{
  size_t i, pass = 0, fail = 0;

  if (lost) { printf("unit: out of memory registering the tests\n"); return 1; }
  qsort(tests, ntests, sizeof tests[0], byname);
  for (i = 0; i < ntests; ++i) {
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    failed_now = 0;
    tests[i].f();
    fflush(stdout);
    if (failed_now) { printf("FAIL %s\n", tests[i].name); ++fail; }
    else ++pass;
  }
  printf("unit: %zu passed, %zu failed\n", pass, fail);
  return fail ? 1 : 0;
}
