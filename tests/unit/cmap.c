#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "cmap.h"

TEST(cmap_plain_case_insensitive)
{
  static const char list[] = "Example.COM\0localhost\0";
  cmap m = CMAP_ZERO;
  const char *v;

  CHECK(cmap_init(&m, list, sizeof list - 1, 0));
  v = cmap_get(&m, "example.com", 11);
  CHECK(v && *v == 0);
  CHECK(cmap_get(&m, "LOCALHOST", 9) != 0);
  CHECK(cmap_get(&m, "localhos", 8) == 0);
  CHECK(cmap_get(&m, "", 0) == 0);
  cmap_free(&m);
}

TEST(cmap_colon_values_first_wins)
{
  static const char list[] = "virt.example:joe\0.fax:uucp-fax\0:catch\0none.example:\0virt.example:other\0";
  cmap m = CMAP_ZERO;
  const char *v;

  CHECK(cmap_init(&m, list, sizeof list - 1, 1));
  v = cmap_get(&m, "VIRT.example", 12);
  CHECK(v && strcmp(v, "joe") == 0);
  v = cmap_get(&m, ".fax", 4);
  CHECK(v && strcmp(v, "uucp-fax") == 0);
  v = cmap_get(&m, "", 0);
  CHECK(v && strcmp(v, "catch") == 0);
  v = cmap_get(&m, "none.example", 12);
  CHECK(v && *v == 0);
  cmap_free(&m);
}

TEST(cmap_empty)
{
  cmap m = CMAP_ZERO;
  CHECK(cmap_init(&m, "", 0, 1));
  CHECK(cmap_get(&m, "x", 1) == 0);
  cmap_free(&m);
}

/* a list whose last line lacks its NUL is read within its bounds */
TEST(cmap_last_line_without_nul)
{
  static const char list[] = "a.example:one\0b.example:two";
  char *copy = malloc(sizeof list - 1);
  cmap m = CMAP_ZERO;
  const char *v;

  CHECK(copy != 0);
  memcpy(copy, list, sizeof list - 1);   /* exactly the bytes, no NUL after */
  CHECK(cmap_init(&m, copy, sizeof list - 1, 1));
  free(copy);
  v = cmap_get(&m, "b.example", 9);
  CHECK(v && strcmp(v, "two") == 0);
  v = cmap_get(&m, "A.EXAMPLE", 9);
  CHECK(v && strcmp(v, "one") == 0);
  cmap_free(&m);
}
