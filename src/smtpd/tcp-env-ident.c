/* The answer of an RFC 1413 ident server, taken apart. */
#include <string.h>

#include "tcp-env.h"
#include "scan.h"
#include "str.h"

int ident_parse(char *reply, size_t n, unsigned rport, unsigned lport, char *info, size_t infomax)
{
  unsigned p1, p2;
  unsigned long u;
  size_t i, k;
  char *f[4];

  reply[n] = 0;
  n = byte_chr(reply, n, '\n');
  reply[n] = 0;
  if (n && reply[n - 1] == '\r') reply[--n] = 0;
  /* "rport , lport : USERID : opsys : user" */
  f[0] = reply;
  for (i = 1; i < 4; ++i) {
    f[i] = strchr(f[i - 1], ':');
    if (!f[i]) return 0;
    *f[i]++ = 0;
  }
  for (i = 0; f[0][i] == ' '; ++i) ;
  k = scan_ulong(f[0] + i, &u); p1 = (unsigned)u;
  if (!k) return 0;
  i += k;
  while (f[0][i] == ' ') ++i;
  if (f[0][i++] != ',') return 0;
  while (f[0][i] == ' ') ++i;
  if (!scan_ulong(f[0] + i, &u)) return 0;
  p2 = (unsigned)u;
  if (p1 != rport || p2 != lport) return 0;
  while (*f[1] == ' ') ++f[1];
  if (strncmp(f[1], "USERID", 6)) return 0;
  while (*f[3] == ' ') ++f[3];
  if (!*f[3] || strlen(f[3]) >= infomax) return 0;
  strcpy(info, f[3]);
  return 1;
}
