/* Unit tests for src/remote/tcpto.c: the table layout and qmail's rules. */
#include <netinet/in.h>
#include <string.h>

#include "harness.h"
#include "tcpto.h"

static struct ipaddr v4(unsigned char d)
{
  struct ipaddr ip;
  memset(&ip, 0, sizeof ip);
  ip.af = AF_INET;
  ip.a[0] = 192; ip.a[1] = 0; ip.a[2] = 2; ip.a[3] = d;
  return ip;
}

static struct ipaddr v6(unsigned char d)
{
  struct ipaddr ip;
  memset(&ip, 0, sizeof ip);
  ip.af = AF_INET6;
  ip.a[0] = 0x20; ip.a[1] = 0x01; ip.a[2] = 0x0d; ip.a[3] = 0xb8; ip.a[15] = d;
  return ip;
}

TEST(tcpto_qmail_v4_record)
{
  unsigned char buf[TCPTO_SIZE];
  struct tcpto_entry e[64];
  struct ipaddr a = v4(7);
  size_t n;
  memset(buf, 0, sizeof buf);
  CHECK(tcpto_update(buf, sizeof buf, &a, 1, 1000000, &n) == 0 && n == 1);
  /* exactly qmail's layout: address, count at 4, little-endian time at 8 */
  CHECK(buf[0] == 192 && buf[3] == 7 && buf[4] == 1);
  CHECK(buf[8] == (1000000 & 255) && buf[9] == ((1000000 >> 8) & 255) && buf[10] == (1000000 >> 16));
  /* a second timeout within two minutes is not counted */
  CHECK(tcpto_update(buf, sizeof buf, &a, 1, 1000060, &n) == -1);
  CHECK(tcpto_update(buf, sizeof buf, &a, 1, 1000200, &n) == 0 && buf[4] == 2);
  CHECK(tcpto_parse(buf, sizeof buf, e, 64) == 1 && e[0].count == 2 && e[0].when == 1000200);
  /* a good connection forgets it */
  CHECK(tcpto_update(buf, sizeof buf, &a, 0, 1000300, &n) == 0 && buf[4] == 0);
  CHECK(tcpto_parse(buf, sizeof buf, e, 64) == 0);
}

TEST(tcpto_v6_pair_and_cap)
{
  unsigned char buf[TCPTO_SIZE];
  struct tcpto_entry e[64];
  struct ipaddr a = v4(1), b = v6(9);
  unsigned long t = 5000000;
  size_t n, k;
  memset(buf, 0, sizeof buf);
  CHECK(tcpto_update(buf, sizeof buf, &a, 1, t, &n) == 0);
  CHECK(tcpto_update(buf, sizeof buf, &b, 1, t, &n) == 2 && n == 2);  /* even pair after slot 0 */
  CHECK(buf[32 + 4] == 0 && buf[48 + 4] == 0);                          /* qmail sees free slots */
  for (k = 0; k < 15; ++k) { t += 200; tcpto_update(buf, sizeof buf, &b, 1, t, &n); }
  CHECK(tcpto_parse(buf, sizeof buf, e, 64) == 2);
  CHECK(e[1].ip.af == AF_INET6 && !memcmp(e[1].ip.a, b.a, 16) && e[1].count == 10);
}

TEST(tcpto_full_table_evicts_oldest)
{
  unsigned char buf[TCPTO_SIZE];
  struct tcpto_entry e[64];
  struct ipaddr a;
  size_t n, k;
  memset(buf, 0, sizeof buf);
  for (k = 0; k < 64; ++k) { a = v4((unsigned char)k); CHECK(tcpto_update(buf, sizeof buf, &a, 1, 1000000 + k * 10, &n) == (long)k); }
  a = v4(200);
  CHECK(tcpto_update(buf, sizeof buf, &a, 1, 2000000, &n) == 0);        /* slot 0 was oldest */
  a = v6(1);
  CHECK(tcpto_update(buf, sizeof buf, &a, 1, 2000000, &n) == 2);        /* pair 2-3 oldest now */
  CHECK(tcpto_parse(buf, sizeof buf, e, 64) == 63);
  /* short or odd tables are handled */
  CHECK(tcpto_parse(buf, 17, e, 64) == 1);
}
