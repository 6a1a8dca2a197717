/* qlist-members - the subscriber file ~/.qmail-NAME: &address lines that
 * qmail-local delivers as forwards. Changes are made under a lock on
 * .qmail-NAME.lock, written to .qmail-NAME.tmp, fsynced and renamed into
 * place, so a crash leaves the old file or the new one, never a mix, and
 * two qlists at once never lose each other's change. The lock and
 * temporary names hold a dot after the list name, so qmail-local, which
 * turns dots of an extension into colons, never takes them for .qmail
 * files. Other lines of the file are kept as they are. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qlist.h"
#include "bio.h"
#include "lock.h"
#include "open.h"
#include "str.h"
#include "syncdir.h"

#define FILEMAX (16 * 1024 * 1024)
#define LOCKTRIES 30    /* seconds to wait for another qlist */

static void name3(sa *fn, const char *name, const char *suffix)
{
  if (!sa_copys(fn, ".qmail-") || !sa_cats(fn, name) || !sa_cats(fn, suffix) || !sa_0(fn)) ql_nomem();
}

/* readall - the whole of fn into text; 0 when fn does not exist */
static int readall(const char *fn, sa *text, struct stat *st)
{
  char buf[4096];
  ssize_t r;
  int fd = open_read(fn);

  text->len = 0;
  if (fd == -1) {
    if (errno == ENOENT) return 0;
    ql_temp("open", fn);
  }
  if (fstat(fd, st) == -1) ql_temp("stat", fn);
  while ((r = bio_rawread(fd, buf, sizeof buf, 0)) > 0) {
    if (text->len + (size_t)r > FILEMAX) { errno = EFBIG; ql_temp("read", fn); }
    if (!sa_catb(text, buf, (size_t)r)) ql_nomem();
  }
  if (r == -1) ql_temp("read", fn);
  close(fd);
  return 1;
}

/* replace - write text to tmp with mode, fsync, rename over fn, sync the
 * directory: the rename is the moment the change happens */
static void replace(const char *tmp, const char *fn, const sa *text, mode_t mode)
{
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1) ql_temp("create", tmp);
  if (fchmod(fd, mode) == -1 || !bio_writeall(fd, text->s, text->len, 0)
      || fsync(fd) == -1 || close(fd) == -1) {
    unlink(tmp);
    ql_temp("write", tmp);
  }
  if (rename(tmp, fn) == -1) { unlink(tmp); ql_temp("rename into", fn); }
  if (syncdir(".") == -1) ql_temp("sync the directory of", fn);
}

/* forwards_to - 1 when the .qmail line s[0..n) forwards to addr */
static int forwards_to(const char *s, size_t n, const char *addr)
{
  size_t al = strlen(addr);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) --n;
  if (n && s[0] == '&') { ++s; --n; }
  else if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
    return 0;
  return n == al && !case_diffb(s, n, addr);
}

static int lockit(const char *name)
{
  sa fn = SA_ZERO;
  int fd, i;

  name3(&fn, name, ".lock");
  fd = open(fn.s, O_WRONLY | O_CREAT, 0600);
  if (fd == -1) ql_temp("open", fn.s);
  for (i = 0; lock_exnb(fd) == -1; ++i) {
    if (errno != EWOULDBLOCK && errno != EINTR) ql_temp("lock", fn.s);
    if (i >= LOCKTRIES) { errno = EWOULDBLOCK; ql_temp("lock (another qlist holds it)", fn.s); }
    sleep(1);
  }
  sa_free(&fn);
  return fd;
}

int members_change(const char *name, const char *list, char action, const char *addr)
{
  sa fn = SA_ZERO, tmp = SA_ZERO, old = SA_ZERO, new = SA_ZERO;
  struct stat st;
  size_t pos, end;
  int lockfd, found = 0, changed;

  lockfd = lockit(name);
  name3(&fn, name, "");
  name3(&tmp, name, ".tmp");
  st.st_mode = 0644;
  readall(fn.s, &old, &st);

  for (pos = 0; pos < old.len; pos = end + 1) {
    end = pos + byte_chr(old.s + pos, old.len - pos, '\n');
    if (forwards_to(old.s + pos, end - pos, addr)) { found = 1; if (action == 's') break; continue; }
    if (action == 'u' && !sa_catb(&new, old.s + pos, (end < old.len ? end + 1 : end) - pos)) ql_nomem();
  }
  changed = action == 's' ? !found : found;
  if (changed) {
    if (action == 's' && !sa_copy(&new, &old)) ql_nomem();
    if (new.len && new.s[new.len - 1] != '\n' && !sa_append(&new, '\n')) ql_nomem();
    /* never leave the file empty: an empty .qmail means the default delivery */
    if (!new.len && (!sa_cats(&new, "# subscribers of ") || !sa_cats(&new, list)
                     || !sa_cats(&new, ", kept by qlist(1)\n"))) ql_nomem();
    if (action == 's' && (!sa_append(&new, '&') || !sa_cats(&new, addr) || !sa_append(&new, '\n'))) ql_nomem();
    /* keep the mode (its x bit means forward-only), never group/world write */
    replace(tmp.s, fn.s, &new, st.st_mode & 07755 & ~(mode_t)022);
  }
  close(lockfd);   /* after the rename: the next qlist reads the new file */
  sa_free(&fn); sa_free(&tmp); sa_free(&old); sa_free(&new);
  return changed;
}

void members_default(const char *name)
{
  sa req = SA_ZERO, def = SA_ZERO, tmp = SA_ZERO, text = SA_ZERO;
  struct stat st;

  name3(&req, name, "-request");
  name3(&def, name, "-request-default");
  name3(&tmp, name, "-request.tmp");
  if (lstat(def.s, &st) == 0 || errno != ENOENT) goto done;
  if (!readall(req.s, &text, &st)) goto done;
  replace(tmp.s, def.s, &text, st.st_mode & 07755 & ~(mode_t)022);
done:
  sa_free(&req); sa_free(&def); sa_free(&tmp); sa_free(&text);
}
