/* qbiff - tell the user about new mail on each terminal where $USER is
 * logged in and has run "biff y" (the owner's execute bit on the tty),
 * the way qbiff(1) says. It shows the sender, From and Subject, made
 * printable and cut short. It never fails a delivery: every problem just
 * means no notice, and the exit code is 0. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmpx.h>

#include "bio.h"
#include "hfield.h"
#include "sa.h"
#include "str.h"

#define SHOW 78

/* catshow - s[0..n) without folding, unprintables as '?', at most SHOW */
static void catshow(sa *out, const char *s, size_t n)
{
  size_t i, k = 0;

  while (n && (*s == ' ' || *s == '\t')) { ++s; --n; }
  for (i = 0; i < n && k < SHOW; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n' || c == '\r') continue;
    if (c == '\t') c = ' ';
    if (c < 32 || c >= 127) c = '?';
    if (!sa_append(out, (char)c)) return;
    ++k;
  }
}

/* notify - write text to terminal line if it is the user's and biff is on */
static void notify(const char *line, size_t n, const char *text, size_t tlen)
{
  char path[64];
  struct stat st;
  int fd;

  if (n > sizeof path - 6) return;
  memcpy(path, "/dev/", 5);
  memcpy(path + 5, line, n);
  path[5 + n] = 0;
  if (!n || strstr(path, "..")) return;
  fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1) return;
  /* only the user's own terminal, and only after biff y */
  if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_uid == getuid()
      && (st.st_mode & S_IXUSR))
    if (write(fd, text, tlen)) {}
  close(fd);
}

int main(void)
{
  char inbuf[BIO_SIZE];
  bio in;
  sa f = SA_ZERO, text = SA_ZERO, from = SA_ZERO, subj = SA_ZERO;
  const char *user = getenv("USER"), *sender = getenv("SENDER");
  struct utmpx *u;
  size_t body;
  int cut;

  if (!user || !*user) return 0;
  bio_init(&in, 0, inbuf, sizeof inbuf);
  while (hfield_next(&in, &f, 4096, &cut) == 1) {
    if (!from.len && hfield_is(&f, "From", &body)) catshow(&from, f.s + body, f.len - body);
    if (!subj.len && hfield_is(&f, "Subject", &body)) catshow(&subj, f.s + body, f.len - body);
  }
  if (!sa_copys(&text, "\r\n\a*** new mail for ")) return 0;
  catshow(&text, user, strlen(user));
  if (sender && *sender) { sa_cats(&text, " from "); catshow(&text, sender, strlen(sender)); }
  sa_cats(&text, " ***\r\n");
  if (from.len) { sa_cats(&text, "From: "); sa_cat(&text, &from); sa_cats(&text, "\r\n"); }
  if (subj.len) { sa_cats(&text, "Subject: "); sa_cat(&text, &subj); sa_cats(&text, "\r\n"); }

  setutxent();
  while ((u = getutxent())) {
    size_t ul = strnlen(u->ut_user, sizeof u->ut_user);
    if (u->ut_type != USER_PROCESS) continue;
    if (ul != strlen(user) || memcmp(u->ut_user, user, ul)) continue;
    notify(u->ut_line, strnlen(u->ut_line, sizeof u->ut_line), text.s, text.len);
  }
  endutxent();
  return 0;
}
