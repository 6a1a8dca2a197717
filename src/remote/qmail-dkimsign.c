/* qmail-dkimsign - the DKIM-Signature header for the message on fd 0.
 * Usage: qmail-dkimsign [-d domain -s selector -k keyfile] [-t time]
 * Without -d, the key comes from control/dkimkeys (domain:selector:keyfile)
 * for the From: domain or the closest listed parent. Prints the header
 * (CRLF line ends) on fd 1 and exits 0, printing nothing when no key
 * applies; on failure prints one line saying why and exits 111 (temporary:
 * a key that cannot be read or used) or 100. Runs as qmailr under
 * qmail-remote; the message is untrusted input, the key is the secret.
 * Links libcrypto (RFC 6376 rsa-sha256, RFC 8463 ed25519-sha256). */
#include <errno.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bio.h"
#include "sa.h"
#include "scan.h"
#include "str.h"
#include "control.h"
#include "dkim.h"
#include "hfield.h"
#include "auto.h"

#define MAXFIELD 65536     /* a signed header field, at most */
#define MAXFIELDS 200      /* signed header fields kept */

static char outbuf[1024];
static bio ob = BIO_INIT(1, outbuf, sizeof outbuf);

static noreturn void fail(int code, const char *a, const char *b, const char *c)
{
  bio_puts(&ob, "qmail-dkimsign: ");
  bio_puts(&ob, a);
  if (b) bio_puts(&ob, b);
  if (c) bio_puts(&ob, c);
  bio_putsflush(&ob, "\n");
  _exit(code);
}
static noreturn void die_nomem(void) { fail(111, "out of memory (#4.3.0)", 0, 0); }
static noreturn void die_read(void) { fail(111, "unable to read message (#4.3.0)", 0, 0); }
static noreturn void die_usage(void) { fail(100, "usage: qmail-dkimsign [-d domain -s selector -k keyfile] [-t time]", 0, 0); }

static const char *const signed_names[] = {
  "From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version",
  "Content-Type", "Content-Transfer-Encoding", "Reply-To", 0
};

static sa fields[MAXFIELDS];
static size_t nfields;
static sa fromdomain = SA_ZERO;

/* domain_of - the domain of the first address in a From: value */
static void domain_of(const char *v, size_t n)
{
  size_t lt = byte_chr(v, n, '<'), at, e;
  if (lt < n) { v += lt + 1; n -= lt + 1; n = byte_chr(v, n, '>'); }
  at = byte_rchr(v, n, '@');
  if (at == n) return;
  for (e = at + 1; e < n; ++e)
    if (v[e] == '>' || v[e] == ' ' || v[e] == '\t' || v[e] == '\r' || v[e] == '\n' || v[e] == '(' || v[e] == ',' || v[e] == ';') break;
  if (!sa_copyb(&fromdomain, v + at + 1, e - at - 1)) die_nomem();
  case_lowerb(fromdomain.s, fromdomain.len);
}

/* readheader - keep the fields we sign; note the From: domain */
static void readheader(bio *in)
{
  sa f = SA_ZERO;
  size_t body, k;
  int cut, r, seenfrom = 0;

  while ((r = hfield_next(in, &f, MAXFIELD, &cut)) == 1) {
    for (k = 0; signed_names[k]; ++k) if (hfield_is(&f, signed_names[k], &body)) break;
    if (!signed_names[k]) continue;
    if (cut) fail(100, "a header field is too long to sign (#5.3.4)", 0, 0);
    if (nfields == MAXFIELDS) fail(100, "too many header fields to sign (#5.3.4)", 0, 0);
    if (!sa_copy(&fields[nfields++], &f)) die_nomem();
    if (k == 0 && !seenfrom) { seenfrom = 1; domain_of(f.s + body, f.len - body); }
  }
  if (r == -1) { if (errno == ENOMEM) die_nomem(); die_read(); }
  sa_free(&f);
}

static sa keys = SA_ZERO;
static sa domain = SA_ZERO, selector = SA_ZERO, keyfile = SA_ZERO;

/* findkey - the dkimkeys line for fromdomain with the longest domain */
static int findkey(void)
{
  size_t i, n, best = 0;
  int found = 0;

  switch (control_readfile(&keys, "control/dkimkeys")) {
    case -1: fail(111, "unable to read control/dkimkeys: ", strerror(errno), " (#4.3.0)");
    case 0: return 0;
  }
  for (i = 0; i < keys.len; i += n + 1) {
    const char *l = keys.s + i, *c1, *c2;
    size_t dl;
    n = strlen(l);
    c1 = memchr(l, ':', n);
    if (!c1) continue;
    c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - l));
    if (!c2 || c2 == c1 + 1 || !c2[1]) continue;
    dl = (size_t)(c1 - l);
    if (!dl || dl > fromdomain.len || dl <= best) continue;
    if (case_diffb(l, dl, fromdomain.s + fromdomain.len - dl)) continue;
    if (dl < fromdomain.len && fromdomain.s[fromdomain.len - dl - 1] != '.') continue;
    best = dl;
    found = 1;
    if (!sa_copyb(&domain, l, dl) || !sa_copyb(&selector, c1 + 1, (size_t)(c2 - c1 - 1))) die_nomem();
    if (c2[1] != '/' && !sa_copys(&keyfile, "control/")) die_nomem();
    if (c2[1] == '/') keyfile.len = 0;
    if (!sa_cats(&keyfile, c2 + 1)) die_nomem();
  }
  if (found) case_lowerb(domain.s, domain.len);
  return found;
}

static EVP_PKEY *loadkey(void)
{
  EVP_PKEY *k;
  BIO *b;

  if (!sa_0(&keyfile)) die_nomem();
  b = BIO_new_file(keyfile.s, "r");
  if (!b) fail(111, "unable to read DKIM key ", keyfile.s, ": permission denied or missing (#4.3.0)");
  k = PEM_read_bio_PrivateKey(b, 0, 0, 0);
  BIO_free(b);
  if (!k) fail(111, "DKIM key ", keyfile.s, " is not a PEM private key (#4.3.0)");
  if (EVP_PKEY_base_id(k) == EVP_PKEY_RSA) {
    if (EVP_PKEY_bits(k) < 2048) fail(111, "DKIM key ", keyfile.s, " is an RSA key under 2048 bits (#4.3.0)");
  } else if (EVP_PKEY_base_id(k) != EVP_PKEY_ED25519)
    fail(111, "DKIM key ", keyfile.s, " is neither RSA nor Ed25519 (#4.3.0)");
  return k;
}

static void hashout(void *ctx, const char *s, size_t n)
{
  if (!EVP_DigestUpdate((EVP_MD_CTX *)ctx, s, n)) die_nomem();
}

/* bodyhash - the relaxed body of the rest of fd 0, base64 into bh */
static void bodyhash(bio *in, sa *bh)
{
  struct dkim_body b;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  ssize_t r;

  if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), 0)) die_nomem();
  dkim_body_init(&b, 1, hashout, ctx);
  while ((r = bio_feed(in)) > 0) {
    dkim_body_feed(&b, bio_peek(in), (size_t)r);
    bio_skip(in, (size_t)r);
  }
  if (r < 0) die_read();
  dkim_body_end(&b);
  if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) die_nomem();
  EVP_MD_CTX_free(ctx);
  if (!dkim_b64enc(bh, md, mdlen)) die_nomem();
}

/* sign - b= over the canonical header text hd */
static void sign(EVP_PKEY *k, const sa *hd, sa *b)
{
  unsigned char sig[1024], md[32];
  size_t siglen = sizeof sig;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok;

  if (!ctx) die_nomem();
  if (EVP_PKEY_base_id(k) == EVP_PKEY_ED25519) {   /* RFC 8463: Ed25519 over the SHA-256 */
    if (!EVP_Digest(hd->s, hd->len, md, 0, EVP_sha256(), 0)) die_nomem();
    ok = EVP_DigestSignInit(ctx, 0, 0, 0, k) == 1 && EVP_DigestSign(ctx, sig, &siglen, md, sizeof md) == 1;
  } else
    ok = EVP_DigestSignInit(ctx, 0, EVP_sha256(), 0, k) == 1 && EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)hd->s, hd->len) == 1;
  if (!ok || siglen > sizeof sig) fail(111, "signing failed (#4.3.0)", 0, 0);
  EVP_MD_CTX_free(ctx);
  if (!dkim_b64enc(b, sig, siglen)) die_nomem();
}

static void cat(sa *x, const char *s) { if (!sa_cats(x, s)) die_nomem(); }
static void catb(sa *x, const char *s, size_t n) { if (!sa_catb(x, s, n)) die_nomem(); }

int main(int argc, char **argv)
{
  char inbuf[BIO_SIZE];
  bio in;
  sa h = SA_ZERO, bh = SA_ZERO, field = SA_ZERO, hd = SA_ZERO, b = SA_ZERO;
  size_t pick[MAXFIELDS + 2], np, i, k;
  unsigned long t = (unsigned long)time(0);
  EVP_PKEY *key;
  int opt;

  while ((opt = getopt(argc, argv, "d:s:k:t:")) != -1)
    switch (opt) {
      case 'd': if (!sa_copys(&domain, optarg)) die_nomem(); break;
      case 's': if (!sa_copys(&selector, optarg)) die_nomem(); break;
      case 'k': if (!sa_copys(&keyfile, optarg)) die_nomem(); break;
      case 't': if (!optarg[scan_ulong(optarg, &t)] && *optarg) break; die_usage();
      default: die_usage();
    }
  if (optind != argc || (domain.len || selector.len || keyfile.len) != (domain.len && selector.len && keyfile.len)) die_usage();
  bio_init(&in, 0, inbuf, sizeof inbuf);
  readheader(&in);
  if (!domain.len) {
    if (chdir(auto_home) == -1) fail(111, "unable to switch to the qmail home (#4.3.0)", 0, 0);
    if (!fromdomain.len || !findkey()) { bio_flush(&ob); _exit(0); }   /* no key: unsigned */
  }
  key = loadkey();
  bodyhash(&in, &bh);

  /* h=: every signed field present, bottom-up, and From once more */
  for (k = 0; signed_names[k]; ++k)
    for (i = 0; i < nfields; ++i)
      if (hfield_is(&fields[i], signed_names[k], &np)) { if (h.len) cat(&h, ":"); cat(&h, signed_names[k]); }
  if (h.len) cat(&h, ":");
  cat(&h, "From");
  case_lowerb(h.s, h.len);

  cat(&field, "DKIM-Signature: v=1; a=");
  cat(&field, EVP_PKEY_base_id(key) == EVP_PKEY_ED25519 ? "ed25519-sha256" : "rsa-sha256");
  cat(&field, "; c=relaxed/relaxed; d=");
  catb(&field, domain.s, domain.len);
  cat(&field, "; s=");
  catb(&field, selector.s, selector.len);
  cat(&field, ";\r\n\tt=");
  if (!sa_catulong(&field, t)) die_nomem();
  cat(&field, "; h=");
  catb(&field, h.s, h.len);
  cat(&field, ";\r\n\tbh=");
  catb(&field, bh.s, bh.len);
  cat(&field, ";\r\n\tb=");

  np = dkim_hlist(h.s, h.len, fields, nfields, pick, MAXFIELDS + 2);
  if (!np) fail(100, "internal error in h= (#5.3.4)", 0, 0);
  for (i = 0; i < np; ++i)
    if (pick[i] != (size_t)-1 && !dkim_hrelaxed(&hd, fields[pick[i]].s, fields[pick[i]].len)) die_nomem();
  if (!dkim_hrelaxed(&hd, field.s, field.len)) die_nomem();
  hd.len -= 2;                                /* the signature field has no CRLF */
  sign(key, &hd, &b);

  for (i = 0; i < b.len; i += 72) {          /* fold b= */
    if (i) cat(&field, "\r\n\t ");
    catb(&field, b.s + i, b.len - i < 72 ? b.len - i : 72);
  }
  cat(&field, "\r\n");
  if (!bio_put(&ob, field.s, field.len) || !bio_flush(&ob)) _exit(111);
  _exit(0);
}
