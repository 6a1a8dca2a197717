/* The TLS engine of ucspi-tlsd: the context, the bounded handshake and
 * the pump. Every descriptor the engine touches is made non-blocking, so
 * a peer that stops reading or writing can only ever cost the idle
 * timeout, never a hung process. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ucspi-tlsd.h"
#include "fd.h"
#include "say.h"

const char *tls_reason(void)
{
  unsigned long e = ERR_get_error();
  const char *r;
  if (!e) return errno ? say_errno() : "connection closed";
  r = ERR_reason_error_string(e);
  return r ? r : "unknown TLS error";
}

noreturn void tls_die(const char *a, const char *b)
{
  die(111, tls_prog, ": fatal: ", a, b, ": ", tls_reason(), "\n", NULL);
}

noreturn void tls_diex(const char *a, const char *b)
{
  die(111, tls_prog, ": fatal: ", a, b, "\n", NULL);
}

/* TLS 1.2 suites: forward secret and AEAD only; TLS 1.3 keeps OpenSSL's
 * three suites, which are all of that kind */
#define CIPHERS12 "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1"

SSL_CTX *tls_ctx(int server)
{
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) tls_die("unable to make a TLS context", "");
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) tls_die("unable to set the TLS version", "");
  if (!SSL_CTX_set_cipher_list(ctx, CIPHERS12)) tls_die("unable to set the ciphers", "");
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET
                           | SSL_OP_IGNORE_UNEXPECTED_EOF   /* SMTP and POP3 end themselves */
                           | (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  /* one process is one connection: a session cache or tickets could
   * never be used again */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (server) SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* tls_handshake - the deadline is for the whole handshake, so a client
 * that sends one byte a minute is dropped all the same */
int tls_handshake(SSL *ssl, int rfd, int wfd, unsigned secs, const char **why)
{
  long long end = now_ms() + (long long)secs * 1000;
  struct pollfd p;
  int r, e;

  *why = 0;
  if (fd_nonblock(rfd) == -1 || fd_nonblock(wfd) == -1) { *why = say_errno(); return 0; }
  if (!SSL_set_rfd(ssl, rfd) || !SSL_set_wfd(ssl, wfd)) return 0;
  for (;;) {
    errno = 0;
    r = SSL_do_handshake(ssl);
    if (r == 1) return 1;
    e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ) { p.fd = rfd; p.events = POLLIN; }
    else if (e == SSL_ERROR_WANT_WRITE) { p.fd = wfd; p.events = POLLOUT; }
    else {
      if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) *why = errno ? say_errno() : "eof";
      return 0;
    }
    for (;;) {
      long long left = end - now_ms();
      if (left <= 0) { *why = "timeout"; return 0; }
      r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
      if (r > 0) break;
      if (r == -1 && errno != EINTR) { *why = say_errno(); return 0; }
    }
  }
}

size_t tls_env(SSL *ssl, char *buf, size_t size)
{
  const char *v = SSL_get_version(ssl), *c = SSL_get_cipher_name(ssl);
  size_t n = 0, k;
  const char *parts[4] = { "SSL_PROTOCOL=", v, "SSL_CIPHER=", c };
  int i;
  for (i = 0; i < 4; ++i) {
    k = strlen(parts[i]) + (i & 1);           /* the values end in NUL */
    if (k > size - n) return 0;
    memcpy(buf + n, parts[i], k);
    n += k;
  }
  return n;
}

static char tonet[16384], toapp[16384];

/* pump - each round does every step that can make progress without
 * blocking, and only when none can does it poll, for exactly what the
 * steps said they were waiting for */
static int pump(SSL *ssl, int net_r, int net_w, int app_in, int *app_outp, unsigned idle)
{
  int app_out = *app_outp;
  size_t tn = 0, tnpos = 0, ta = 0, tapos = 0;
  int app_eof = 0, net_eof = 0;
  ssize_t r;
  int k, e;

  if (fd_nonblock(app_in) == -1 || fd_nonblock(app_out) == -1) return 111;
  for (;;) {
    int progress = 0, net_in = 0, net_out = 0;
    struct pollfd p[3];
    int np = 0;

    if (!app_eof && !tn) {
      r = read(app_in, tonet, sizeof tonet);
      if (r > 0) { tn = (size_t)r; tnpos = 0; progress = 1; }
      else if (r == 0) { app_eof = 1; progress = 1; }
      else if (errno != EAGAIN && errno != EINTR) return 111;
    }
    if (tn) {
      errno = 0;
      k = SSL_write(ssl, tonet + tnpos, (int)(tn - tnpos));
      if (k > 0) { tnpos += (size_t)k; if (tnpos == tn) tn = 0; progress = 1; }
      else {
        e = SSL_get_error(ssl, k);
        if (e == SSL_ERROR_WANT_READ) net_in = 1;
        else if (e == SSL_ERROR_WANT_WRITE) net_out = 1;
        else return 111;
      }
    }
    if (!net_eof && !ta) {
      errno = 0;
      k = SSL_read(ssl, toapp, sizeof toapp);
      if (k > 0) { ta = (size_t)k; tapos = 0; progress = 1; }
      else {
        e = SSL_get_error(ssl, k);
        if (e == SSL_ERROR_WANT_READ) net_in = 1;
        else if (e == SSL_ERROR_WANT_WRITE) net_out = 1;
        else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error() && !errno)) {
          net_eof = 1; progress = 1;         /* close_notify, or a bare TCP EOF */
        }
        else return 111;
      }
    }
    if (ta && app_out != -1) {
      r = write(app_out, toapp + tapos, ta - tapos);
      if (r > 0) { tapos += (size_t)r; if (tapos == ta) ta = 0; progress = 1; }
      else if (r == -1 && errno == EPIPE) { close(app_out); *app_outp = app_out = -1; ta = 0; progress = 1; }
      else if (r == -1 && errno != EAGAIN && errno != EINTR) return 111;
    }
    if (net_eof && !ta && app_out != -1) { close(app_out); *app_outp = app_out = -1; }
    if (app_eof && !tn) {
      /* the application is done: say so to the peer and end */
      SSL_shutdown(ssl);
      return 0;
    }
    if (progress) continue;

    if (!app_eof && !tn) { p[np].fd = app_in; p[np].events = POLLIN; ++np; }
    if (ta && app_out != -1) { p[np].fd = app_out; p[np].events = POLLOUT; ++np; }
    if (net_in || net_out) {
      if (net_r == net_w || !(net_in && net_out)) {
        p[np].fd = net_in ? net_r : net_w;
        p[np].events = (short)((net_in ? POLLIN : 0) | (net_out ? POLLOUT : 0));
        if (net_r != net_w && net_out) p[np].fd = net_w;
        ++np;
      } else {
        p[np].fd = net_r; p[np].events = POLLIN; ++np;
        p[np].fd = net_w; p[np].events = POLLOUT; ++np;
      }
    }
    if (!np) return 111;                       /* nothing can ever happen */
    r = poll(p, (nfds_t)np, idle ? (int)(idle > 86400 ? 86400000 : idle * 1000) : -1);
    if (r == 0) { errno = ETIMEDOUT; return 111; }
    if (r == -1 && errno != EINTR) return 111;
  }
}

int tls_pump(SSL *ssl, int net_r, int net_w, int app_in, int app_out, unsigned idle)
{
  int r = pump(ssl, net_r, net_w, app_in, &app_out, idle);
  close(app_in);
  if (app_out != -1) close(app_out);
  return r;
}
