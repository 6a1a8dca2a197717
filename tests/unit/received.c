#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "received.h"

TEST(received_peer_defaults_and_fallbacks)
{
  struct received_peer p;

  unsetenv("TCPLOCALHOST"); unsetenv("TCPLOCALIP"); unsetenv("TCPREMOTEIP");
  unsetenv("TCPREMOTEHOST"); unsetenv("TCPREMOTEINFO");
  received_peer(&p);
  CHECK(!strcmp(p.local, "unknown") && !strcmp(p.remoteip, "unknown"));
  CHECK(!strcmp(p.remotehost, "unknown") && p.remoteinfo == 0);
  setenv("TCPLOCALIP", "192.0.2.1", 1);
  setenv("TCPREMOTEINFO", "joe", 1);
  received_peer(&p);
  CHECK(!strcmp(p.local, "192.0.2.1") && !strcmp(p.remoteinfo, "joe"));
  setenv("TCPLOCALHOST", "mx.example", 1);
  setenv("TCPREMOTEIP", "192.0.2.9", 1);
  setenv("TCPREMOTEHOST", "client.example", 1);
  received_peer(&p);
  CHECK(!strcmp(p.local, "mx.example") && !strcmp(p.remoteip, "192.0.2.9"));
  CHECK(!strcmp(p.remotehost, "client.example"));
  unsetenv("TCPLOCALHOST"); unsetenv("TCPLOCALIP"); unsetenv("TCPREMOTEIP");
  unsetenv("TCPREMOTEHOST"); unsetenv("TCPREMOTEINFO");
}

/* a peer's HELO cannot fold the field or add a line */
TEST(received_fmt_makes_peer_text_safe)
{
  sa x = SA_ZERO;
  const char *want = "Received: from h (HELO a??Bcc:?x) (joe@192.0.2.9)\n  by mx with SMTP; "
                     "Thu, 1 Jan 1970 00:00:00 +0000\n";
  CHECK(received_fmt(&x, "SMTP", "mx", "192.0.2.9", "h", "joe", "a\r\nBcc: x", 0));
  CHECK(x.len == strlen(want) && !memcmp(x.s, want, x.len));
  sa_free(&x);
}
