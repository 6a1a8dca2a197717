#include "base64.h"

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* value - the 6 bits of c, or -1 when c is not in the alphabet */
static int value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int base64_decode(char *out, size_t *outlen, const char *s, size_t n)
{
  size_t i, o = 0, pad = 0;
  unsigned long acc;
  int v, k;

  if (n % 4) return 0;
  if (n && s[n - 1] == '=') pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
  for (i = 0; i < n; i += 4) {
    acc = 0;
    for (k = 0; k < 4; ++k) {
      if (i + (size_t)k >= n - pad) { acc <<= 6; continue; }   /* the padding */
      v = value((unsigned char)s[i + (size_t)k]);
      if (v < 0) return 0;
      acc = (acc << 6) | (unsigned long)v;
    }
    out[o++] = (char)(acc >> 16);
    if (i + 4 < n || pad < 2) out[o++] = (char)(acc >> 8);
    if (i + 4 < n || pad < 1) out[o++] = (char)acc;
    /* the bits the padding stands for must be zero (RFC 4648 3.5) */
    if (i + 4 >= n && pad == 2 && (acc & 0xffff)) return 0;
    if (i + 4 >= n && pad == 1 && (acc & 0xff)) return 0;
  }
  *outlen = o;
  return 1;
}

size_t base64_encode(char *out, size_t max, const char *s, size_t n)
{
  size_t i, o = 0;
  unsigned long acc;

  /* 4 * ceil(n / 3) <= max, written so that nothing can overflow */
  if (!n || n / 3 + (n % 3 != 0) > max / 4) return 0;
  for (i = 0; i < n; i += 3) {
    acc = (unsigned long)(unsigned char)s[i] << 16;
    if (i + 1 < n) acc |= (unsigned long)(unsigned char)s[i + 1] << 8;
    if (i + 2 < n) acc |= (unsigned long)(unsigned char)s[i + 2];
    out[o++] = alphabet[(acc >> 18) & 63];
    out[o++] = alphabet[(acc >> 12) & 63];
    out[o++] = i + 1 < n ? alphabet[(acc >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? alphabet[acc & 63] : '=';
  }
  return o;
}
