/* tcp-env.h - what the files of tcp-env share: tcp-env.c asks the ident
 * server, tcp-env-ident.c reads its answer. */
#ifndef TCP_ENV_H
#define TCP_ENV_H

#include <stddef.h>

/* ident_parse - the user name in reply[0..n), an RFC 1413 answer
 * "rport , lport : USERID : opsys : user" (the first line; CR LF or LF
 * ends it), when its ports are rport and lport. The buffer must hold n+1
 * bytes; it is cut up in place. The user, spaces before it taken off,
 * goes into info, NUL-terminated. Returns 1, or 0 for an ERROR answer,
 * other ports, a missing field, an empty user or one of infomax bytes or
 * more. */
int ident_parse(char *reply, size_t n, unsigned rport, unsigned lport, char *info, size_t infomax);

#endif
