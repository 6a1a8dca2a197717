/* timeoutconn - connect a stream socket within a time limit.
 * The socket is made nonblocking for the connect and put back to blocking
 * after. Returns 0 when connected, -1 with errno set otherwise: ETIMEDOUT
 * when timeout seconds (at least 1) passed, or the connect error
 * (ECONNREFUSED, EHOSTUNREACH, ...). The caller owns and closes fd. */
#ifndef TIMEOUTCONN_H
#define TIMEOUTCONN_H

#include <sys/socket.h>

int timeoutconn(int fd, const struct sockaddr *sa, socklen_t len, unsigned timeout);

#endif
