/* canary - undefined behaviour on purpose (a signed overflow), so that
 * make sanitize can see a report from a setuid program run by another uid
 * with an empty environment reach the reports directory before it trusts
 * an empty one. */
#include <limits.h>

int main(int argc, char **argv)
{
  int x = INT_MAX - 1;
  (void)argv;
  x += argc + 1;
  return x == 0;
}
