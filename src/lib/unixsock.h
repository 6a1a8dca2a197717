/* unixsock - UNIX stream sockets named by a path. unixsock_listen removes
 * whatever is at path, binds a socket there that nobody can connect to
 * before it has owner uid, group gid ((uid_t)-1 or (gid_t)-1: unchanged)
 * and mode, and listens; unixsock_connect connects to path. Both return a
 * close-on-exec descriptor, or -1 with errno set and *step naming what
 * failed ("bind", "chown", ...). unixsock_peerok is 1 when the peer on c
 * runs as uid or as root, 0 otherwise or when it cannot be told. */
#ifndef UNIXSOCK_H
#define UNIXSOCK_H

#include <sys/types.h>

int unixsock_listen(const char *path, uid_t uid, gid_t gid, mode_t mode, int backlog, const char **step);
int unixsock_connect(const char *path, const char **step);
int unixsock_peerok(int c, uid_t uid);

#endif
