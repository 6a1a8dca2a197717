/* STARTTLS for qmail-smtpd (RFC 3207) through a UCSPI-TLS helper such as
 * ucspi-tlsd(8) (src/mail/ucspitls.c): qmail-smtpd itself never links a
 * TLS library. What the client sent after STARTTLS in cleartext is thrown
 * away unread (CVE-2011-0411), and the session starts over
 * (smtpd_forget): no HELO, sender or recipient from before counts. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmail-smtpd.h"
#include "bio.h"
#include "ucspitls.h"

const char *smtpd_tls;                 /* "TLSv1.3 TLS_AES_..." once TLS is on */
static int offer;
static char tlsinfo[UCSPITLS_INFO];

/* tls_init - under ucspi-tlsd -i TLS is on from the start; otherwise
 * STARTTLS is offered when a UCSPI-TLS helper gave us its descriptors */
void tls_init(void)
{
  const char *p = getenv("SSL_PROTOCOL"), *c = getenv("SSL_CIPHER");
  if (p && c) {
    ucspitls_info(tlsinfo, sizeof tlsinfo, p, strlen(p), c, strlen(c));
    smtpd_tls = tlsinfo;
    return;
  }
  offer = ucspitls_available();
}

int tls_offer(void) { return !smtpd_tls && offer; }

const char *tls_proto(void)
{
  static char proto[UCSPITLS_INFO + 10];
  size_t n;
  if (!smtpd_tls) return "SMTP";
  n = strlen(smtpd_tls);
  memcpy(proto, "ESMTPS (", 8);        /* RFC 3848 */
  memcpy(proto + 8, smtpd_tls, n);
  memcpy(proto + 8 + n, ")", 2);
  return proto;
}

void smtp_starttls(const char *arg, size_t len)
{
  if (smtpd_tls) { out("503 TLS is already on (#5.5.1)\r\n"); return; }
  if (!offer) { out("502 unimplemented (#5.5.1)\r\n"); return; }
  if (len) { out("501 STARTTLS takes no parameters (#5.5.4)\r\n"); return; }
  out("220 ready to start TLS (#2.0.0)\r\n");
  smtpd_flush();
  /* CVE-2011-0411: what came after STARTTLS in the same packet is the
   * client's cleartext, not part of the TLS session */
  bio_skip(&smtpd_in, bio_avail(&smtpd_in));
  /* the helper bounds the handshake; our timeout bounds the helper */
  if (!ucspitls_start(smtpd_in.timeout, tlsinfo, sizeof tlsinfo)) _exit(111);
  smtpd_tls = tlsinfo;
  smtpd_forget();
}
