/* received - the Received header field a receiving server puts on top of
 * each message (qmail-smtpd(8), qmail-qmtpd(8), qmail-qmqpd(8)):
 *   Received: from HOST (HELO helo) (info@ip)
 *     by local with PROTO; date
 * The "(HELO ...)" part is left out when helo is 0, "info@" when info is 0.
 * Every byte of host, helo, info, ip and local outside [A-Za-z0-9] and
 * ". @ % + / = : - [ ]" is written as '?', so a peer cannot add header
 * lines or fold the field. received_fmt appends the field, ending in LF,
 * to out; 1 on success, 0 with errno set. */
#ifndef RECEIVED_H
#define RECEIVED_H

#include <time.h>

#include "sa.h"

int received_fmt(sa *out, const char *proto, const char *local, const char *remoteip,
                 const char *remotehost, const char *remoteinfo, const char *helo, time_t when);

/* received_peer - the connection as tcpserver describes it (tcp-environ(5)):
 * local from TCPLOCALHOST, else TCPLOCALIP; remoteip from TCPREMOTEIP;
 * remotehost from TCPREMOTEHOST; each "unknown" when unset. remoteinfo is
 * TCPREMOTEINFO or 0. The strings belong to the environment. */
struct received_peer {
  const char *local, *remoteip, *remotehost, *remoteinfo;
};
void received_peer(struct received_peer *p);

#endif
