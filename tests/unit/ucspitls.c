#include <string.h>

#include "harness.h"
#include "ucspitls.h"

/* the report as ucspi-tlsd and s6-ucspitlsd write it */
TEST(ucspitls_var_finds_each_variable)
{
  static const char rep[] = "SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER=TLS_AES_256_GCM_SHA384\0SSL_X=1\0";
  size_t n = sizeof rep, l = 99;          /* both NULs at the end count */
  const char *v;
  v = ucspitls_var(rep, n, "SSL_PROTOCOL=", &l);
  CHECK(v && l == 7 && !memcmp(v, "TLSv1.3", 7));
  v = ucspitls_var(rep, n, "SSL_CIPHER=", &l);
  CHECK(v && l == 22 && !memcmp(v, "TLS_AES_256_GCM_SHA384", 22));
  CHECK(ucspitls_var(rep, n, "SSL_VERIFIED=", &l) == 0);
  CHECK(ucspitls_var(rep, n, "SSL_=", &l) == 0);
  v = ucspitls_var(rep, n, "SSL_X=", &l);
  CHECK(v && l == 1 && *v == '1');
}

/* a report cut short: the last variable has no NUL and is still bounded */
TEST(ucspitls_var_unterminated_and_empty)
{
  static const char rep[] = "SSL_PROTOCOL=TLS";
  size_t l = 0;
  const char *v = ucspitls_var(rep, 16, "SSL_PROTOCOL=", &l);
  CHECK(v && l == 3);
  CHECK(ucspitls_var(rep, 0, "SSL_PROTOCOL=", &l) == 0);
  v = ucspitls_var("SSL_CIPHER=\0\0", 13, "SSL_CIPHER=", &l);
  CHECK(v && l == 0);
}

TEST(ucspitls_info_is_safe_for_a_header)
{
  char info[UCSPITLS_INFO], small[8];
  ucspitls_info(info, sizeof info, "TLSv1.2", 7, "ECDHE-RSA-AES128-GCM-SHA256", 27);
  CHECK(!strcmp(info, "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"));
  ucspitls_info(info, sizeof info, "TLS\r\nBcc: x", 11, "a;b)", 4);
  CHECK(!strcmp(info, "TLS??Bcc??x a?b?"));
  ucspitls_info(small, sizeof small, "TLSv1.3", 7, "LONGCIPHER", 10);
  CHECK(!strcmp(small, "TLSv1.3"));
  ucspitls_info(small, 1, "x", 1, "y", 1);
  CHECK(small[0] == 0);
}
