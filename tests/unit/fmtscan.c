#include <string.h>

#include "harness.h"
#include "fmt.h"
#include "scan.h"

TEST(fmt_numbers)
{
  char buf[FMT_ULONG];
  CHECK(fmt_ulong(0, 0) == 1);
  CHECK(fmt_ulong(buf, 1234567) == 7 && memcmp(buf, "1234567", 7) == 0);
  CHECK(fmt_ulong(buf, 18446744073709551615UL) == 20);
  CHECK(memcmp(buf, "18446744073709551615", 20) == 0);
  CHECK(fmt_ulong0(buf, 7, 2) == 2 && memcmp(buf, "07", 2) == 0);
  CHECK(fmt_ulong0(buf, 123, 2) == 3);
  CHECK(fmt_xlong(buf, 0xbeef) == 4 && memcmp(buf, "beef", 4) == 0);
}

TEST(scan_numbers)
{
  unsigned long u = 99;
  CHECK(scan_ulong("123abc", &u) == 3 && u == 123);
  CHECK(scan_ulong("abc", &u) == 0 && u == 123);
  CHECK(scan_ulong("18446744073709551615", &u) == 20 && u == 18446744073709551615UL);
  u = 5;
  CHECK(scan_ulong("18446744073709551616", &u) == 0 && u == 5);
  CHECK(scan_ulong("99999999999999999999999", &u) == 0);
  CHECK(scan_ulongn("12345", 2, &u) == 2 && u == 12);
  CHECK(scan_8long("0755", &u) == 4 && u == 0755);
}
