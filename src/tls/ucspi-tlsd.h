/* ucspi-tlsd.h - what the files of ucspi-tlsd share.
 * ucspi-tlsd.c: options, the server side (UCSPI-TLS and -i), privileges.
 * ucspi-tlsd-io.c: the TLS context, a handshake bounded in time, the
 *   pump between the TLS connection and the application's pipes.
 * ucspi-tlsd-client.c: the client side (-c) that qmail-remote runs.
 * ucspi-tlsd-engine.c: the resident engine (-d).
 * prog.c, handoff.c (shared with ucspi-tlsd-front): prog's side, and
 *   the hand-off to the engine.
 * Every function here that can fail prints its own message and exits 111:
 * the helper is one connection, and a failed connection is temporary. */
#ifndef UCSPI_TLSD_H
#define UCSPI_TLSD_H

#include <stddef.h>
#include <stdnoreturn.h>
#include <openssl/ssl.h>

#include "prog.h"


/* tls_die - "ucspi-tlsd: fatal: a b: <openssl or errno reason>", exit 111 */
noreturn void tls_die(const char *a, const char *b);
noreturn void tls_diex(const char *a, const char *b);
const char *tls_reason(void);            /* the oldest queued OpenSSL error */

/* tls_ctx - a context for TLS 1.2 and 1.3 only, modern ciphers */
SSL_CTX *tls_ctx(int server);

/* tls_handshake - SSL_accept or SSL_connect on rfd/wfd, made non-blocking,
 * within secs seconds in total. 1 done, 0 failed (reason in tls_reason()
 * or errno; *why says which: "timeout", "eof" or 0 for OpenSSL) */
int tls_handshake(SSL *ssl, int rfd, int wfd, unsigned secs, const char **why);

/* tls_env - "SSL_PROTOCOL=p\0SSL_CIPHER=c\0" into buf, its length, 0 if
 * it does not fit */
size_t tls_env(SSL *ssl, char *buf, size_t size);

/* tls_pump - copy app_in to the TLS connection and the TLS connection to
 * app_out until one side is done; an idle period of idle seconds ends it.
 * Returns (never exits), with app_in and app_out closed so the program
 * behind them sees the end, and the caller picks the exit code: 0 for a
 * clean end, 111 otherwise. */
int tls_pump(SSL *ssl, int net_r, int net_w, int app_in, int app_out, unsigned idle);

/* the -c mode (ucspi-tlsd-client.c): the options main sets, then
 * tls_client, which never returns */
extern const char *tlsc_cafile;         /* -C: 0 for the system's CAs */
extern int tlsc_require;                /* -V: no handshake unless verified */
void tlsc_name(const char *name);       /* -n: a name the certificate may have */
noreturn void tls_client(unsigned hsecs, unsigned idle);

/* the server side (ucspi-tlsd.c), which the engine's workers run too */
extern unsigned hsecs, idle;            /* -h and -t */
SSL_CTX *server_ctx(void);              /* CERTFILE and KEYFILE, or exit */
SSL_CTX *server_ctx_again(void);        /* the same, or 0 with a warning */
SSL *accept_tls(SSL_CTX *ctx);          /* the handshake on fds 0 and 1 */
int command(SSL_CTX *ctx, int ctl);     /* UCSPI-TLS's engine side */

/* the resident engine (ucspi-tlsd-engine.c) */
noreturn void engine_serve(const char *path);

#endif
