/* SMTP AUTH for qmail-remote (RFC 4954): credentials for a smarthost named
 * in control/smtproutes come from control/smtpauth, one line per relay:
 *   relay:user:password
 * where relay is spelled as in smtproutes (a name, or [ip]), the user has
 * no colon, and the password is the rest of the line. The file holds
 * passwords: it must be readable by qmailr alone (mode 0600 or 0400),
 * else nothing is sent and the mail is deferred. The password goes out
 * only over TLS (qmail-remote-smtp.c checks), never into a report. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmail-remote.h"
#include "control.h"
#include "str.h"

static sa file = SA_ZERO;
static const char *user, *pass;

int auth_controls(const char *relay)
{
  struct stat st;
  size_t rl = strlen(relay), k, n, u;
  int r;

  r = control_readfile(&file, "control/smtpauth");
  if (r != 1) return r;
  if (stat("control/smtpauth", &st) == -1) return -1;
  if (st.st_mode & 077) return -2;
  for (k = 0; k < file.len; k += n + 1) {
    const char *l = file.s + k;
    n = strlen(l);
    if (n <= rl || l[rl] != ':' || case_diffb(l, rl, relay)) continue;
    u = byte_chr(l + rl + 1, n - rl - 1, ':');
    if (u == n - rl - 1 || !u) continue;              /* no user, or no password field */
    file.s[k + rl + 1 + u] = 0;
    user = l + rl + 1;
    pass = l + rl + 1 + u + 1;
    return 1;
  }
  return 0;
}

const char *auth_user(void) { return user; }
const char *auth_pass(void) { return pass; }
