/* maildirmake - make a new maildir (maildir(5)): DIR with tmp, new and cur,
 * each mode 0700. An existing DIR is refused, so a mailbox in use is never
 * touched. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errtemp.h"
#include "say.h"

#define FATAL "maildirmake: fatal: "

/* die_mk - 100 when trying again cannot help (it exists, a bad path), else 111 */
static noreturn void die_mk(const char *what, const char *dir, const char *sub)
{
  int code = (errno == EEXIST || !err_temp(errno)) ? 100 : 111;
  die(code, FATAL, "unable to ", what, " ", dir, sub, ": ", say_errno(), "\n", NULL);
}

int main(int argc, char **argv)
{
  static const char *const sub[3] = { "/tmp", "/new", "/cur" };
  int i;

  if (argc != 2 || !argv[1][0])
    die(100, "maildirmake: usage: maildirmake dir\n", NULL);
  umask(077);
  if (mkdir(argv[1], 0700) == -1) die_mk("mkdir", argv[1], "");
  if (chdir(argv[1]) == -1) die_mk("chdir to", argv[1], "");
  for (i = 0; i < 3; ++i)
    if (mkdir(sub[i] + 1, 0700) == -1) die_mk("mkdir", argv[1], sub[i]);
  return 0;
}
