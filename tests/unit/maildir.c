#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "maildir.h"

static int count(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d))) if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

TEST(maildir_names_unique)
{
  sa a = SA_ZERO, b = SA_ZERO;
  CHECK(maildir_name(&a));
  CHECK(maildir_name(&b));
  CHECK(a.len && b.len);
  CHECK(!(a.len == b.len && memcmp(a.s, b.s, a.len) == 0));
  CHECK(memchr(a.s, '/', a.len) == 0 && memchr(a.s, ':', a.len) == 0);
  sa_free(&a); sa_free(&b);
}

TEST(maildir_deliver_files)
{
  char dir[] = "/tmp/mdtestXXXXXX";
  char sub[64], msgfn[64];
  int fd, i, r;
  pid_t kids[8];

  CHECK(mkdtemp(dir) != 0);
  strcpy(sub, dir); strcat(sub, "/tmp"); CHECK(mkdir(sub, 0700) == 0);
  strcpy(sub, dir); strcat(sub, "/new"); CHECK(mkdir(sub, 0700) == 0);
  strcpy(msgfn, dir); strcat(msgfn, "/msg");
  fd = open(msgfn, O_RDWR | O_CREAT, 0600);
  CHECK(fd != -1);
  CHECK(write(fd, "body\n", 5) == 5);

  /* concurrent deliveries in the same second never share a name */
  for (i = 0; i < 8; ++i) {
    kids[i] = fork();
    if (kids[i] == 0) {
      int k, bad = 0;
      int f = open(msgfn, O_RDONLY);
      for (k = 0; k < 5; ++k) {
        lseek(f, 0, SEEK_SET);
        if (maildir_deliver(dir, "H: 1\n", 5, f) != MAILDIR_OK) bad = 1;
      }
      _exit(bad);
    }
  }
  for (i = 0; i < 8; ++i) {
    int st;
    CHECK(waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  strcpy(sub, dir); strcat(sub, "/new");
  CHECK(count(sub) == 40);
  strcpy(sub, dir); strcat(sub, "/tmp");
  CHECK(count(sub) == 0);

  /* a directory without tmp/ is an EDIR failure and leaves nothing */
  lseek(fd, 0, SEEK_SET);
  r = maildir_deliver(sub, "", 0, fd);
  CHECK(r == MAILDIR_EDIR);
  r = maildir_deliver("/nonexistent/maildir", "", 0, fd);
  CHECK(r == MAILDIR_EDIR);
  close(fd);
  {
    char cmd[128];
    strcpy(cmd, "rm -rf "); strcat(cmd, dir);
    CHECK(system(cmd) == 0);
  }
}
