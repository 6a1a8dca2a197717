#!/bin/sh
# check.sh HOME [BUILD] - check that HOME has qmail's tree with the right
# types, owners and modes (scripts/hier.sh). Exit 0 when all is right, 100
# with one line per problem otherwise.
home=$1
build=${2:-build}
[ -d "$home" ] || { echo "check: $home: no such directory" >&2; exit 100; }
bad=0
sh "$(dirname "$0")/hier.sh" "$build" > "${TMPDIR:-/tmp}/qmail-check.$$" || exit 111
while read -r type path owner group mode arg; do
  t=$home/$path
  case $type in
    d) [ -d "$t" ] || { echo "check: $t is not a directory"; bad=1; continue; } ;;
    f|z) [ -f "$t" ] || { echo "check: $t is missing"; bad=1; continue; } ;;
    p) [ -p "$t" ] || { echo "check: $t is not a FIFO"; bad=1; continue; } ;;
  esac
  have=$(stat -c '%U %G %a' "$t")
  want="$owner $group $(printf '%o' "0$mode")"
  [ "$have" = "$want" ] || { echo "check: $t is $have, want $want"; bad=1; }
done < "${TMPDIR:-/tmp}/qmail-check.$$"
rm -f "${TMPDIR:-/tmp}/qmail-check.$$"
[ $bad = 0 ] || exit 100
echo "check: $home is in order"
