#!/bin/sh
# config - guess this host's fully qualified name without asking DNS, then
# fill control/ as config-fast does and add localhost to locals and
# rcpthosts (config(8)). The guess: the system's host name; if it has no
# dot, the first dotted name on its line in /etc/hosts; else the host name
# plus the domain or first search domain of /etc/resolv.conf. On a
# terminal the guess is shown and may be replaced.
home="@QMAILHOME@"
control="$home/control"
hosts=/etc/hosts
resolv=/etc/resolv.conf
name=
ask=1
[ -t 0 ] || ask=0

usage() {
  echo "config: usage: config [ -y ] [ -n hostname ] [ -H hostsfile ] [ -R resolvconf ]" >&2
  exit 100
}
while getopts yn:H:R: opt; do
  case $opt in
    y) ask=0 ;;
    n) name=$OPTARG ;;
    H) hosts=$OPTARG ;;
    R) resolv=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# = 0 ] || usage

[ -n "$name" ] || name=$(uname -n 2>/dev/null)
[ -n "$name" ] || name=$(cat /etc/hostname 2>/dev/null)
name=$(printf '%s\n' "$name" | tr 'A-Z' 'a-z' | sed 's/\.*$//')
[ -n "$name" ] || { echo "config: fatal: unable to find the host name; run config-fast" >&2; exit 100; }
echo "Your host name is $name."
fqdn=$name

case $fqdn in
  *.*) ;;
  *) # /etc/hosts: a line naming this host, its first name with a dot
    if [ -r "$hosts" ]; then
      fqdn=$(sed 's/#.*//' "$hosts" | tr 'A-Z' 'a-z' | awk -v h="$name" '
        { found = 0; for (i = 2; i <= NF; i++) if ($i == h) found = 1
          if (found) for (i = 2; i <= NF; i++) if ($i ~ /\./) { print $i; exit } }')
      [ -n "$fqdn" ] && echo "$hosts calls it $fqdn."
    fi
    [ -n "$fqdn" ] || fqdn=$name ;;
esac
case $fqdn in
  *.*) ;;
  *) # resolv.conf: the domain line, else the first search domain
    dom=
    if [ -r "$resolv" ]; then
      dom=$(awk '$1 == "domain" && NF > 1 { print $2; exit }' "$resolv")
      [ -n "$dom" ] || dom=$(awk '$1 == "search" && NF > 1 { print $2; exit }' "$resolv")
    fi
    dom=$(printf '%s\n' "$dom" | tr 'A-Z' 'a-z' | sed 's/\.*$//')
    if [ -n "$dom" ] && [ "$dom" != . ]; then
      fqdn=$name.$dom
      echo "$resolv gives the domain $dom."
    fi ;;
esac

if [ $ask = 1 ]; then
  printf 'Fully qualified name to use [%s]: ' "$fqdn"
  read -r answer || answer=
  [ -z "$answer" ] || fqdn=$answer
fi
case $fqdn in
  *.*) ;;
  *) echo "config: fatal: unable to guess a fully qualified name for $name." >&2
     echo "Run config-fast with the full name, e.g. config-fast $name.example.com" >&2
     exit 100 ;;
esac

"$home/bin/config-fast" "$fqdn" || exit $?

# add FILE LINE - append LINE to control/FILE unless a line already says it
add() {
  if grep -qixF -- "$2" "$control/$1" 2>/dev/null; then return; fi
  echo "Putting $2 into control/$1..."
  { [ ! -f "$control/$1" ] || cat "$control/$1"; printf '%s\n' "$2"; } > "$control/$1.tmp" &&
    chmod 644 "$control/$1.tmp" && mv -f "$control/$1.tmp" "$control/$1" ||
    { echo "config: fatal: unable to write $control/$1" >&2; rm -f "$control/$1.tmp"; exit 111; }
}
add locals localhost
add rcpthosts localhost
echo "If other domain names point to this host, add them to control/locals"
echo "(delivered here) and control/rcpthosts (accepted by SMTP)."
exit 0
