#include "envaddr.h"

const char *envaddr_bad(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i)
    switch (s[i]) {
      case 0: return "NUL in address";
      case '\r': return "CR in address";
      case '\n': return "LF in address";
    }
  return 0;
}
