#include <string.h>

#include "qfn.h"
#include "scan.h"
#include "auto.h"

/* qfn_fmt - dir/[id%split/]id with a NUL */
size_t qfn_fmt(char *s, const char *dir, unsigned long id, int split)
{
  size_t len = strlen(dir);
  size_t n;

  if (s) { memcpy(s, dir, len); s[len] = '/'; }
  ++len;
  if (split) {
    n = fmt_ulong(s ? s + len : 0, id % auto_split);
    len += n;
    if (s) s[len] = '/';
    ++len;
  }
  len += fmt_ulong(s ? s + len : 0, id);
  if (s) s[len] = 0;
  return len;
}

int qfn_id(const char *name, unsigned long *id)
{
  size_t n = scan_ulong(name, id);
  return n && !name[n];
}
