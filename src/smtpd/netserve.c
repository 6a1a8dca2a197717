#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netserve.h"
#include "bio.h"
#include "sa.h"
#include "scan.h"
#include "control.h"
#include "auto.h"

/* netroot - 1 and why set when prog must not serve: root on a network
 * socket (see netserve.h); 0 when it may go on; -1 when memory runs out */
static int netroot(sa *why, const char *prog)
{
  struct stat st;

  if (getuid() && geteuid()) return 0;
  if (!getenv("PROTO") && !getenv("TCPREMOTEIP")) return 0;
  /* sendmail -bs sets PROTO too, but talks on a terminal or a pipe */
  if (fstat(0, &st) == -1 || !S_ISSOCK(st.st_mode)) return 0;
  /* no user lookup here: qmail-smtpd is linked statically, without NSS */
  if (!sa_copys(why, prog) || !sa_cats(why, ": fatal: refusing to serve the network as root; run it as ")
      || !sa_cats(why, auto_userd) || !sa_cats(why, " with tcpserver -u $(id -u ") || !sa_cats(why, auto_userd)
      || !sa_cats(why, ") -g $(id -g ") || !sa_cats(why, auto_userd)
      || !sa_cats(why, "): tcpserver takes numbers and reads a name as 0\n")) return -1;
  return 1;
}

int netserve_noroot(const char *prog)
{
  sa why = SA_ZERO;
  int r = netroot(&why, prog);
  if (r == 0) return 1;
  if (r == 1) bio_writeall(2, why.s, why.len, 0);
  sa_free(&why);
  return 0;
}

int netserve_limits(unsigned long *databytes, unsigned *timeout)
{
  unsigned long u = 1200;
  const char *x;

  if (control_readnum(databytes, "control/databytes", control_warn2) == -1) return -1;
  x = getenv("DATABYTES");
  if (x && scan_ulong(x, &u)) *databytes = u;
  u = 1200;
  if (control_readnum(&u, "control/timeoutsmtpd", control_warn2) == -1) return -1;
  *timeout = u ? (u > 86400 ? 86400 : (unsigned)u) : 1;
  return 0;
}
