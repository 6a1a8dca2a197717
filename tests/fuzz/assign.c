/* assign - users/assign of qmail-users(5): the input is the text that
 * qmail-newu compiles; when it compiles, lookups in the cdb made must give
 * fields that are NUL-terminated at len. The input also goes through
 * assign_parse, qmail-getpw's output format. */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "assign.h"

static void check(const assign *a)
{
  if (a->user.s[a->user.len] || a->home.s[a->home.len] || a->dash.s[a->dash.len] ||
      a->ext.s[a->ext.len])
    fuzz_fail("field not NUL-terminated");
}

void fuzz_one(const unsigned char *data, size_t len)
{
  static const char *const locals[] = { "joe", "Joe-Ext", "alias", "", "a-b-c", "postmaster", 0 };
  static assign a = ASSIGN_ZERO;
  unsigned long line = 0;
  const char *why = 0;
  int in = fuzz_fd(data, len), out = fuzz_fd((const unsigned char *)"", 0);
  size_t i;

  if (assign_make(in, out, &line, &why) == 1) {
    for (i = 0; locals[i]; ++i)
      if (assign_find(&a, out, locals[i], strlen(locals[i])) == 1) check(&a);
    if (len && assign_find(&a, out, (const char *)data, len < 64 ? len : 64) == 1) check(&a);
  }
  close(in);
  close(out);
  if (assign_parse(&a, (const char *)data, len) == 1) check(&a);
}
