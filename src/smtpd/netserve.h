/* netserve - the start that qmail-smtpd, qmail-qmtpd and qmail-qmqpd share.
 * netserve_noroot(prog) is 1 when prog may serve this client, 0 when it
 * must not, with the complaint written to fd 2 (or memory ran out): the
 * caller then exits 111. Network servers read from strangers and must run
 * as qmaild; Debian's tcpserver takes numeric -u and -g only and reads a
 * name as 0, so `tcpserver -u qmaild` silently runs them as root. Refused
 * is uid or euid 0 with PROTO or TCPREMOTEIP set (tcpserver, tcp-env and
 * inetd wrappers set them) and a socket on stdin; the complaint names the
 * numeric options as id(1) gives them. sendmail -bs (stdin not a socket)
 * may run as root.
 * netserve_limits reads control/databytes into *databytes (DATABYTES in
 * the environment wins) and control/timeoutsmtpd into *timeout (default
 * 1200, kept within 1..86400 seconds), relative to the current directory
 * (the qmail home); 0, or -1 with errno set when a file cannot be read. */
#ifndef NETSERVE_H
#define NETSERVE_H

int netserve_noroot(const char *prog);
int netserve_limits(unsigned long *databytes, unsigned *timeout);

#endif
