#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct test { const char *name; void (*f)(void); };
static struct test tests[1024];
static size_t ntests;
static int failed_now;

void harness_add(const char *name, void (*f)(void))
{
  if (ntests < sizeof tests / sizeof tests[0]) {
    tests[ntests].name = name;
    tests[ntests].f = f;
    ++ntests;
  }
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
