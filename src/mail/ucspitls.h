/* ucspitls - the application side of UCSPI-TLS, as ucspi-tlsd(8) and
 * s6-networking's s6-ucspitlsd speak it, for qmail-smtpd and qmail-popup.
 * The helper names three descriptors: SSLCTLFD (control), SSLREADFD and
 * SSLWRITEFD (the cleartext once TLS is on). ucspitls_start writes 'Y' on
 * the control descriptor, reads the report SSL_PROTOCOL=p\0SSL_CIPHER=c\0\0
 * (at most UCSPITLS_REPORT bytes, each read within timeout seconds), then
 * moves SSLREADFD onto fd 0 and SSLWRITEFD onto fd 1 and closes the
 * control descriptor. It returns 1, or 0 with errno set when there is no
 * TLS session (the handshake failed: the network can no longer be used).
 * ucspitls_info writes "protocol cipher" into info (size bytes, NUL
 * included), every byte outside [A-Za-z0-9._-] made '?', so the text can
 * go into a header field or a log line. */
#ifndef UCSPITLS_H
#define UCSPITLS_H

#include <stddef.h>

#define UCSPITLS_REPORT 1024
#define UCSPITLS_INFO 200

int ucspitls_available(void);
int ucspitls_start(unsigned timeout, char *info, size_t size);
void ucspitls_info(char *info, size_t size, const char *proto, size_t np, const char *cipher, size_t nc);
/* ucspitls_var - the value of name (with its '=') in the NUL-separated
 * report rep[0..n), its length in *len; 0 when it is not there */
const char *ucspitls_var(const char *rep, size_t n, const char *name, size_t *len);

#endif
