/* harness - a tiny libc-only unit test harness.
 * TEST(name) { ... } defines and registers a test; CHECK(cond) records a
 * failure (with file and line) and goes on. The runner (harness.c) runs every
 * test and ends with "N passed, N failed"; a test passes when no CHECK failed.
 * There is no limit on the number of tests; a test that cannot be registered
 * (out of memory) fails the whole run. */
#ifndef HARNESS_H
#define HARNESS_H

void harness_add(const char *name, void (*f)(void));
void harness_fail(const char *file, int line, const char *what);

#define TEST(name) \
  static void name(void); \
  __attribute__((constructor)) static void reg_##name(void) { harness_add(#name, name); } \
  static void name(void)

#define CHECK(cond) \
  do { if (!(cond)) harness_fail(__FILE__, __LINE__, #cond); } while (0)

#endif
