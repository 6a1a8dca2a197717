/* qmail-dkimkeygen - make a DKIM key pair and print the DNS record.
 * Usage: qmail-dkimkeygen [-t rsa|ed25519] [-b bits] domain selector keyfile
 * Writes the private key (PEM, PKCS#8) to keyfile, which must not exist,
 * with mode 0600, owned by qmailr when run as root; prints the TXT record
 * to publish at selector._domainkey.domain in zone-file form, and the
 * control/dkimkeys line. Exit 0, 100 for bad usage, 111 on failure.
 * Links libcrypto. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "say.h"
#include "sa.h"
#include "scan.h"
#include "str.h"
#include "dkim.h"
#include "auto.h"

static noreturn void die_usage(void) { die(100, "usage: qmail-dkimkeygen [-t rsa|ed25519] [-b bits] domain selector keyfile\n", NULL); }
static noreturn void die_nomem(void) { die(111, "qmail-dkimkeygen: fatal: out of memory\n", NULL); }
static noreturn void die_key(void) { die(111, "qmail-dkimkeygen: fatal: unable to make the key\n", NULL); }

static int label_ok(const char *s)
{
  if (!*s) return 0;
  for (; *s; ++s)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
      return 0;
  return 1;
}

static EVP_PKEY *makekey(int ed, unsigned long bits)
{
  EVP_PKEY *k = 0;
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA, 0);
  if (!c || EVP_PKEY_keygen_init(c) <= 0) die_key();
  if (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(c, (int)bits) <= 0) die_key();
  if (EVP_PKEY_keygen(c, &k) <= 0) die_key();
  EVP_PKEY_CTX_free(c);
  return k;
}

/* writekey - the private key into a new file only its owner reads */
static void writekey(EVP_PKEY *k, const char *fn)
{
  struct passwd *pw;
  FILE *f;
  int fd = open(fn, O_WRONLY | O_CREAT | O_EXCL, 0600);

  if (fd == -1) die(111, "qmail-dkimkeygen: fatal: unable to create ", fn, ": ", say_errno(), "\n", NULL);
  if (getuid() == 0 && (pw = getpwnam(auto_userr)) && fchown(fd, pw->pw_uid, pw->pw_gid) == -1)
    die(111, "qmail-dkimkeygen: fatal: unable to chown ", fn, ": ", say_errno(), "\n", NULL);
  f = fdopen(fd, "w");
  if (!f || !PEM_write_PrivateKey(f, k, 0, 0, 0, 0, 0) || fflush(f) || fsync(fd) == -1 || fclose(f))
    die(111, "qmail-dkimkeygen: fatal: unable to write ", fn, "\n", NULL);
}

/* pubkey - p= : the SubjectPublicKeyInfo for RSA, the raw key for Ed25519 (RFC 8463) */
static void pubkey(EVP_PKEY *k, int ed, sa *p)
{
  unsigned char raw[64], *der = 0;
  size_t rl = sizeof raw;
  int n;

  if (ed) {
    if (EVP_PKEY_get_raw_public_key(k, raw, &rl) != 1) die_key();
    if (!dkim_b64enc(p, raw, rl)) die_nomem();
    return;
  }
  n = i2d_PUBKEY(k, &der);
  if (n <= 0) die_key();
  if (!dkim_b64enc(p, der, (size_t)n)) die_nomem();
  OPENSSL_free(der);
}

int main(int argc, char **argv)
{
  unsigned long bits = 2048;
  int ed = 0, opt;
  EVP_PKEY *k;
  sa p = SA_ZERO, rec = SA_ZERO;
  size_t i;

  while ((opt = getopt(argc, argv, "t:b:")) != -1)
    switch (opt) {
      case 't':
        if (str_equal(optarg, "ed25519")) ed = 1;
        else if (str_equal(optarg, "rsa")) ed = 0;
        else die_usage();
        break;
      case 'b':
        if (!*optarg || optarg[scan_ulong(optarg, &bits)] || bits < 2048 || bits > 8192) die_usage();
        break;
      default: die_usage();
    }
  if (argc - optind != 3 || !label_ok(argv[optind]) || !label_ok(argv[optind + 1])) die_usage();
  k = makekey(ed, bits);
  writekey(k, argv[optind + 2]);
  pubkey(k, ed, &p);
  if (!sa_cats(&rec, ed ? "v=DKIM1; k=ed25519; p=" : "v=DKIM1; k=rsa; p=") || !sa_catb(&rec, p.s, p.len)) die_nomem();
  /* zone-file form: character-strings of at most 255 bytes */
  printf("%s._domainkey.%s. IN TXT (", argv[optind + 1], argv[optind]);
  for (i = 0; i < rec.len; i += 250) printf(" \"%.*s\"", (int)(rec.len - i < 250 ? rec.len - i : 250), rec.s + i);
  printf(" )\n");
  printf("# control/dkimkeys line:\n%s:%s:%s\n", argv[optind], argv[optind + 1], argv[optind + 2]);
  if (fflush(stdout)) return 111;
  return 0;
}
