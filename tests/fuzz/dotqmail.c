/* dotqmail - .qmail lines of dot-qmail(5): every line of the text is
 * classified, and each line's s lies inside the text and is NUL-terminated
 * at s[len]; the first line also goes through dq_safeext and dq_search as
 * an extension (the callback says a name exists when its length is odd). */
#include <string.h>

#include "fuzz.h"
#include "dotqmail.h"

static int exists(const char *name, void *ctx)
{
  (void)ctx;
  return strlen(name) & 1;
}

void fuzz_one(const unsigned char *data, size_t len)
{
  static sa text = SA_ZERO, ext = SA_ZERO, fn = SA_ZERO;
  size_t pos = 0, lineno = 0, defpos, n;
  dq_line l;

  if (!sa_copyb(&text, (const char *)data, len) || !dq_finish(&text)) return;
  while (dq_next(&text, &pos, &lineno, &l)) {
    if (l.s < text.s || l.s + l.len >= text.s + text.len + 1) fuzz_fail("line outside the text");
    if (l.type != DQ_NUL && l.s[l.len]) fuzz_fail("line not NUL-terminated");
    if (pos > text.len) fuzz_fail("position past the text");
  }
  n = strnlen((const char *)data, len);
  if (n > 200) n = 200;
  if (!sa_copyb(&fn, (const char *)data, n) || !sa_0(&fn)) return;
  for (size_t i = 0; i < n; ++i) if (fn.s[i] == '\n') fn.s[i] = 'x';
  if (!dq_safeext(&ext, fn.s)) return;
  if (ext.len != n) fuzz_fail("safe extension changed length");
  if (dq_search(&fn, "-", ext.s, ext.len, exists, 0, &defpos) == 1 &&
      defpos != DQ_NODEFAULT && defpos > ext.len)
    fuzz_fail("DEFAULT past the extension");
}
