#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "maildir.h"
#include "bio.h"
#include "fmt.h"
#include "open.h"

static unsigned long made; /* names made by this process: the Q field */

/* cathost - the host name with '/' and ':' (and anything unprintable)
 * written as \ooo, as maildir readers expect */
static int cathost(sa *out)
{
  char host[256];
  size_t i;

  host[0] = 0;
  if (gethostname(host, sizeof host - 1) == -1) host[0] = 0;
  host[sizeof host - 1] = 0;
  if (!host[0]) return sa_cats(out, "localhost");
  for (i = 0; host[i]; ++i) {
    unsigned char c = (unsigned char)host[i];
    if (c == '/' || c == ':' || c < 33 || c > 126) {
      char oct[4];
      oct[0] = '\\';
      oct[1] = (char)('0' + (c >> 6));
      oct[2] = (char)('0' + ((c >> 3) & 7));
      oct[3] = (char)('0' + (c & 7));
      if (!sa_catb(out, oct, 4)) return 0;
    } else if (!sa_append(out, (char)c)) return 0;
  }
  return 1;
}

int maildir_name(sa *out)
{
  struct timeval tv;

  gettimeofday(&tv, 0);
  ++made;
  return sa_copys(out, "")
      && sa_catulong(out, (unsigned long)tv.tv_sec) && sa_cats(out, ".M")
      && sa_catulong(out, (unsigned long)tv.tv_usec) && sa_cats(out, "P")
      && sa_catulong(out, (unsigned long)getpid()) && sa_cats(out, "Q")
      && sa_catulong(out, made) && sa_cats(out, ".")
      && cathost(out);
}

/* path - out = sub "/" name, NUL-terminated */
static int path(sa *out, const char *sub, const sa *name)
{
  return sa_copys(out, sub) && sa_cats(out, "/") && sa_cat(out, name) && sa_0(out);
}

int maildir_deliver(const char *dir, const char *head, size_t hlen, int fdin)
{
  sa name = SA_ZERO, tmp = SA_ZERO, fnnew = SA_ZERO;
  char inbuf[BIO_SIZE], outbuf[BIO_SIZE];
  bio in, out;
  int dfd, fd = -1, nfd, tries, r, code, e;
  int linked = 0, created = 0;

  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd == -1) return MAILDIR_EDIR;
  /* a nameless file in tmp/ needs no name there and no unlink after,
   * and a crash leaves nothing behind; else the classic tmp/NAME */
  fd = open_nameless(dfd, "tmp");
  if (fd == -1 && errno != EOPNOTSUPP) {
    code = errno == ENOENT || errno == ENOTDIR ? MAILDIR_EDIR : MAILDIR_ETMP;
    goto out;
  }
  for (tries = 0; fd == -1; ++tries) {
    if (!maildir_name(&name) || !path(&tmp, "tmp", &name)) { code = MAILDIR_ENOMEM; goto out; }
    fd = openat(dfd, tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd != -1) { created = 1; break; }
    if (errno == ENOENT || errno == ENOTDIR) { code = MAILDIR_EDIR; goto out; }
    /* EEXIST means a stray file from a crash or a clock step: new name */
    if (errno != EEXIST || tries >= 9) { code = MAILDIR_ETMP; goto out; }
  }

  bio_init(&out, fd, outbuf, sizeof outbuf);
  bio_init(&in, fdin, inbuf, sizeof inbuf);
  code = MAILDIR_EWRITE;
  if (!bio_put(&out, head, hlen)) goto out;
  r = bio_copy(&out, &in);
  if (r == -1) { code = MAILDIR_EREAD; goto out; }
  if (r == -2 || !bio_flush(&out)) goto out;
  /* the data must be on disk before the name in new/ says it is there */
  if (fsync(fd) == -1) goto out;
  /* a named file is closed first, so a write error that only close
   * reports (NFS) comes before the link; a nameless one needs fd to link */
  if (created) {
    r = close(fd);
    fd = -1;
    if (r == -1) goto out;
  }

  for (tries = 0;; ++tries) {
    /* tmp/NAME gives new/NAME at first; a name taken in new/, another */
    if ((!created || tries) && !maildir_name(&name)) { code = MAILDIR_ENOMEM; goto out; }
    if (!path(&fnnew, "new", &name)) { code = MAILDIR_ENOMEM; goto out; }
    r = created ? linkat(dfd, tmp.s, dfd, fnnew.s, 0) : link_nameless(fd, dfd, fnnew.s);
    if (r == 0) break;
    if (errno != EEXIST || tries >= 9) { code = MAILDIR_ELINK; goto out; }
  }
  linked = 1;
  if (fd != -1) {
    /* the link count the link gave the inode: a file system without a
     * journal writes it only now (with one, this commits the link too) */
    r = fsync(fd);
    if (r == 0) r = close(fd);
    else close(fd);
    fd = -1;
    if (r == -1) { code = MAILDIR_EWRITE; goto out; }
  }
  code = MAILDIR_ELINK;
  /* the link itself must be durable before success is reported */
  nfd = openat(dfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (nfd == -1) goto out;
  r = fsync(nfd);
  e = errno;
  close(nfd);
  errno = e;
  if (r == -1) goto out;
  linked = 0;
  code = MAILDIR_OK;

out:
  e = errno;
  if (fd != -1) close(fd);
  if (linked) unlinkat(dfd, fnnew.s, 0);  /* failure leaves nothing in new/ */
  if (created) unlinkat(dfd, tmp.s, 0);
  close(dfd);
  sa_free(&name); sa_free(&tmp); sa_free(&fnnew);
  errno = e;
  return code;
}

const char *maildir_errstr(int code)
{
  switch (code) {
    case MAILDIR_OK: return "ok";
    case MAILDIR_EDIR: return "unable to open maildir";
    case MAILDIR_ETMP: return "unable to create a file in maildir tmp";
    case MAILDIR_EREAD: return "unable to read message";
    case MAILDIR_EWRITE: return "unable to write maildir file";
    case MAILDIR_ELINK: return "unable to link maildir file into new";
    case MAILDIR_ENOMEM: return "out of memory";
  }
  return "maildir delivery failed";
}
