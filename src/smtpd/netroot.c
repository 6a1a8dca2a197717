#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netroot.h"
#include "auto.h"

int netroot(sa *why, const char *prog)
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
