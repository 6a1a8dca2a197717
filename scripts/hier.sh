#!/bin/sh
# hier.sh BUILD - print the installed tree, one entry a line:
#   d PATH OWNER GROUP MODE          directory
#   f PATH OWNER GROUP MODE SOURCE   file copied from SOURCE
#   z PATH OWNER GROUP MODE SIZE     file of SIZE zero bytes, made once
#   p PATH OWNER GROUP MODE          FIFO, made once
# PATH is relative to the home; OWNER/GROUP are conf-users/conf-groups names.
# setup.sh makes this tree and check.sh checks it, so they never disagree.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
u() { sed -n "${1}p" "$top/conf-users"; }
g() { sed -n "${1}p" "$top/conf-groups"; }
ua=$(u 1) uo=$(u 4) uq=$(u 6) ur=$(u 7) us=$(u 8) gq=$(g 1)
split=$(head -n 1 "$top/conf-split")

echo "d . $uo $gq 0755"
for d in control users bin boot doc man man/man1 man/man5 man/man7 man/man8; do
  echo "d $d $uo $gq 0755"
done
echo "d alias $ua $gq 2755"
echo "d queue $uq $gq 0750"
echo "d queue/pid $uq $gq 0700"
echo "d queue/intd $uq $gq 0700"
echo "d queue/todo $uq $gq 0750"
echo "d queue/bounce $us $gq 0700"
echo "d queue/mess $uq $gq 0750"
for q in info local remote; do echo "d queue/$q $us $gq 0700"; done
i=0
while [ $i -lt "$split" ]; do
  echo "d queue/mess/$i $uq $gq 0750"
  for q in info local remote; do echo "d queue/$q/$i $us $gq 0700"; done
  i=$((i + 1))
done
echo "d queue/lock $uq $gq 0750"
echo "z queue/lock/tcpto $ur $gq 0644 1024"
echo "z queue/lock/sendmutex $us $gq 0600 0"
echo "p queue/lock/trigger $us $gq 0622"

# programs: qmail's modes; anything not listed is a user tool, 0755
for p in "$build"/bin/*; do
  [ -f "$p" ] || continue
  n=${p##*/}
  case $n in
    qmail-queue) echo "f bin/$n $uq $gq 4711 $p" ;;
    qmail-lspawn|qmail-start|qmail-newu|qmail-newmrh) echo "f bin/$n $uo $gq 0700 $p" ;;
    qmail-getpw|qmail-local|qmail-remote|qmail-dkimsign|qmail-rspawn|qmail-clean|qmail-send|\
    splogger|qmail-pw2u|qmail-popup) echo "f bin/$n $uo $gq 0711 $p" ;;
    *) echo "f bin/$n $uo $gq 0755 $p" ;;
  esac
done
for m in "$top"/man/*.[1-8]; do
  [ -f "$m" ] || continue
  n=${m##*/}
  echo "f man/man${n##*.}/$n $uo $gq 0644 $m"
done
for m in "$top"/doc/*; do
  [ -f "$m" ] || continue
  echo "f doc/${m##*/} $uo $gq 0644 $m"
done
for m in "$top"/boot/*; do
  [ -f "$m" ] || continue
  echo "f boot/${m##*/} $uo $gq 0755 $m"
done
