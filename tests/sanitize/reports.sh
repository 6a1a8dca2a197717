#!/bin/sh
# reports.sh DIR - exit 1 when DIR holds a sanitizer report, and show each;
# the sanitize build writes one file per reporting process. A file holding
# only "failed to allocate" warnings is no report: with
# allocator_may_return_null malloc returns NULL for an impossible size (the
# unit tests' overflow edges, a peer's huge length) and the program says
# "out of memory" itself.
dir=$1
[ -d "$dir" ] || { echo "sanitize: $dir: no such directory" >&2; exit 111; }
found=0
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  grep -q -v -e '^==[0-9]*==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]* bytes$' "$f" || continue
  found=$((found + 1))
  echo "sanitize: report $f:"
  head -n 40 "$f"
done
if [ $found -gt 0 ]; then
  echo "sanitize: $found sanitizer report(s) in $dir" >&2
  exit 1
fi
echo "sanitize: no sanitizer reports in $dir"
