/* ucspi-tlsd -c - the client side, for qmail-remote, which never links a
 * TLS library itself. Descriptors: 6 reads and 7 writes the network (as
 * tcpclient gives them), 0 is the cleartext to send, 1 the cleartext
 * received, 3 the report. After the handshake the report is
 *   SSL_PROTOCOL=p\0SSL_CIPHER=c\0SSL_VERIFIED=yes\0\0
 * or, when the certificate did not verify,
 *   SSL_PROTOCOL=p\0SSL_CIPHER=c\0SSL_VERIFIED=no\0SSL_VERIFY_ERROR=why\0\0
 * and when there is no TLS session at all: SSL_ERROR=why\0\0, exit 111. */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ucspi-tlsd.h"

const char *tlsc_cafile;
int tlsc_require;
static const char *names[16];
static size_t nnames;

void tlsc_name(const char *name)
{
  if (nnames < sizeof names / sizeof *names) names[nnames++] = name;
}

static char rep[1024];
static size_t nrep;

static void add(const char *a, const char *b)
{
  size_t na = strlen(a), nb = strlen(b) + 1;
  if (na + nb + 1 > sizeof rep - nrep) return;       /* the report stays whole */
  memcpy(rep + nrep, a, na); nrep += na;
  memcpy(rep + nrep, b, nb); nrep += nb;
}

static void report(void)
{
  rep[nrep++] = 0;
  if (write(3, rep, nrep) != (ssize_t)nrep) _exit(111);
  close(3);
}

static noreturn void fail(const char *why)
{
  add("SSL_ERROR=", why);
  report();
  _exit(111);             /* said on fd 3: qmail-remote's fd 2 is qmail-send's log */
}

static int isip(const char *s)
{
  unsigned char b[16];
  return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

noreturn void tls_client(unsigned hsecs, unsigned idle)
{
  SSL_CTX *ctx = tls_ctx(0);
  X509_VERIFY_PARAM *vp;
  const char *why;
  long v;
  size_t i;
  SSL *ssl;

  if (tlsc_cafile ? SSL_CTX_load_verify_locations(ctx, tlsc_cafile, 0) != 1
                  : SSL_CTX_set_default_verify_paths(ctx) != 1)
    fail(tlsc_cafile ? "unable to load the CA file" : "unable to load the system CAs");
  /* without -V the certificate is still checked, and the result reported */
  SSL_CTX_set_verify(ctx, tlsc_require ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, 0);
  ssl = SSL_new(ctx);
  if (!ssl) fail(tls_reason());
  SSL_set_connect_state(ssl);
  vp = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (i = 0; i < nnames; ++i)
    if (X509_VERIFY_PARAM_add1_host(vp, names[i], 0) != 1) fail("bad name for -n");
  for (i = 0; i < nnames; ++i)               /* SNI: the first real host name */
    if (names[i][0] != '.' && !isip(names[i])) { SSL_set_tlsext_host_name(ssl, names[i]); break; }
  if (!tls_handshake(ssl, 6, 7, hsecs, &why)) {
    v = SSL_get_verify_result(ssl);
    if (tlsc_require && v != X509_V_OK) fail(X509_verify_cert_error_string(v));
    fail(why ? why : tls_reason());
  }
  nrep = tls_env(ssl, rep, sizeof rep - 200);
  v = SSL_get_verify_result(ssl);
  if (!SSL_get0_peer_certificate(ssl)) { add("SSL_VERIFIED=", "no"); add("SSL_VERIFY_ERROR=", "no certificate"); }
  else if (v == X509_V_OK) add("SSL_VERIFIED=", "yes");
  else { add("SSL_VERIFIED=", "no"); add("SSL_VERIFY_ERROR=", X509_verify_cert_error_string(v)); }
  report();
  _exit(tls_pump(ssl, 6, 7, 0, 1, idle));
}
