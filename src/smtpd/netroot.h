/* netroot - network servers must not run as root.
 * qmail-smtpd, qmail-qmtpd and qmail-qmqpd read from strangers and should
 * run as qmaild; Debian's tcpserver takes numeric -u and -g only and reads
 * a name as 0, so `tcpserver -u qmaild` silently runs them as root.
 * netroot returns 1 when this process has uid or euid 0, its environment
 * says it serves a network client (PROTO or TCPREMOTEIP set, as tcpserver,
 * tcp-env and inetd wrappers set them) and its stdin is a socket, with
 * why = the complaint for prog,
 * naming the numeric options as id(1) gives them; 0 when it may go on;
 * -1 when memory runs out. sendmail -bs (stdin not a socket) may run as
 * root. */
#ifndef NETROOT_H
#define NETROOT_H

#include "sa.h"

int netroot(sa *why, const char *prog);

#endif
