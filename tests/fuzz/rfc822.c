/* rfc822 - the RFC 5322 address list parser, and its round trip: for
 * every list that parses, the rendered text parses again to the same
 * items (kind, local part, '@', domain, display name), and rendering that
 * gives the same text: parse(render(x)) == x. Also the tokenizer alone. */
#include <string.h>

#include "fuzz.h"
#include "rfc822.h"

static int same(const sa *ta, size_t a, size_t an, const sa *tb, size_t b, size_t bn)
{
  return an == bn && (!an || !memcmp(ta->s + a, tb->s + b, an));
}

void fuzz_one(const unsigned char *data, size_t len)
{
  static rfc822_list l = RFC822_ZERO, l2 = RFC822_ZERO;
  static rfc822_tokens tk = RFC822_TOKENS_ZERO;
  static sa out = SA_ZERO, out2 = SA_ZERO, raw = SA_ZERO;
  const char *s = (const char *)data;
  size_t k;
  int r;

  if (rfc822_tokenize(&tk, s, len) == -1) return;
  r = rfc822_addrlist(&l, s, len);
  if (r != 1) return;
  out.len = 0;
  if (!rfc822_render(&out, &l, 4)) return;
  for (k = 0; k < l.len; ++k)
    if (l.i[k].kind == RFC822_MAILBOX) { raw.len = 0; if (!rfc822_addr(&raw, &l, k)) return; }
  r = rfc822_addrlist(&l2, out.s, out.len);
  if (r == -1) return;
  if (r == 0) fuzz_fail("rendered list does not parse");
  if (l2.len != l.len) fuzz_fail("rendered list has another number of items");
  for (k = 0; k < l.len; ++k) {
    const rfc822_item *a = l.i + k, *b = l2.i + k;
    if (a->kind != b->kind) fuzz_fail("item kind changed");
    if (a->kind == RFC822_GROUPEND) continue;
    if (!same(&l.text, a->phrase, a->phraselen, &l2.text, b->phrase, b->phraselen))
      fuzz_fail("display name changed");
    if (a->kind != RFC822_MAILBOX) continue;
    if (a->at != b->at) fuzz_fail("'@' appeared or vanished");
    if (!same(&l.text, a->local, a->locallen, &l2.text, b->local, b->locallen))
      fuzz_fail("local part changed");
    if (!same(&l.text, a->domain, a->domainlen, &l2.text, b->domain, b->domainlen))
      fuzz_fail("domain changed");
  }
  out2.len = 0;
  if (!rfc822_render(&out2, &l2, 4)) return;
  if (out2.len != out.len || (out.len && memcmp(out.s, out2.s, out.len)))
    fuzz_fail("rendering is not stable");
}
