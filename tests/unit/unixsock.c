#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "unixsock.h"

/* a socket made, connected to, and its peer seen; then made again over
 * the old one */
TEST(unixsock_listen_connect_peerok)
{
  char path[64];
  const char *step = 0;
  struct stat st;
  int s, c, a, i;

  snprintf(path, sizeof path, "/tmp/unixsock-test.%ld", (long)getpid());
  for (i = 0; i < 2; ++i) {
    s = unixsock_listen(path, (uid_t)-1, (gid_t)-1, 0600, 4, &step);
    CHECK(s != -1);
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
    c = unixsock_connect(path, &step);
    CHECK(c != -1);
    a = accept(s, 0, 0);
    CHECK(a != -1);
    CHECK(unixsock_peerok(a, geteuid()) == 1);
    CHECK(unixsock_peerok(a, geteuid() + 1) == (geteuid() == 0));
    close(a); close(c); close(s);
  }
  unlink(path);
  CHECK(unixsock_connect(path, &step) == -1 && errno == ENOENT && !strcmp(step, "connect to"));
  CHECK(unixsock_peerok(-1, 0) == 0);
}

TEST(unixsock_name_too_long)
{
  char path[200];
  const char *step = 0;
  memset(path, 'a', sizeof path - 1);
  path[0] = '/';
  path[sizeof path - 1] = 0;
  CHECK(unixsock_listen(path, (uid_t)-1, (gid_t)-1, 0600, 4, &step) == -1 && errno == ENAMETOOLONG);
  CHECK(!strcmp(step, "bind"));
  CHECK(unixsock_connect(path, &step) == -1 && errno == ENAMETOOLONG);
  CHECK(unixsock_listen("/nonexistent/dir/sock", (uid_t)-1, (gid_t)-1, 0600, 4, &step) == -1);
  CHECK(errno == ENOENT && !strcmp(step, "bind"));
}
