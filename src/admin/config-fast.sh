#!/bin/sh
# config-fast - fill control/ from a fully qualified host name, without DNS
# (config-fast(8)): me is the name; defaultdomain is the name without its
# first label when it has three or more; plusdomain is its last two labels;
# the name is added to locals and rcpthosts unless already there.
control="@QMAILHOME@/control"

case $# in 1) ;; *) echo "config-fast: usage: config-fast full.host.name" >&2; exit 100 ;; esac
fqdn=$(printf '%s\n' "$1" | tr 'A-Z' 'a-z' | sed 's/\.*$//')
case $fqdn in
  ''|.*|*..*|-*|*.-*|*-.*|*-|*[!a-z0-9.-]*)
    echo "config-fast: fatal: not a host name: $1" >&2; exit 100 ;;
esac
[ -d "$control" ] || { echo "config-fast: fatal: no directory $control" >&2; exit 111; }

# put FILE TEXT - replace control/FILE with one line, atomically, mode 644
put() {
  echo "Putting $2 into control/$1..."
  printf '%s\n' "$2" > "$control/$1.tmp" && chmod 644 "$control/$1.tmp" &&
    mv -f "$control/$1.tmp" "$control/$1" ||
    { echo "config-fast: fatal: unable to write $control/$1" >&2; rm -f "$control/$1.tmp"; exit 111; }
}

# add FILE LINE - append LINE to control/FILE unless a line already says it
add() {
  if [ -f "$control/$1" ] && grep -qixF -- "$2" "$control/$1"; then
    echo "control/$1 already lists $2."
    return
  fi
  echo "Putting $2 into control/$1..."
  { [ ! -f "$control/$1" ] || cat "$control/$1"; printf '%s\n' "$2"; } > "$control/$1.tmp" &&
    chmod 644 "$control/$1.tmp" && mv -f "$control/$1.tmp" "$control/$1" ||
    { echo "config-fast: fatal: unable to write $control/$1" >&2; rm -f "$control/$1.tmp"; exit 111; }
}

echo "Your fully qualified host name is $fqdn."
put me "$fqdn"
case $fqdn in
  *.*.*) put defaultdomain "${fqdn#*.}" ;;
  *) put defaultdomain "$fqdn" ;;
esac
put plusdomain "$(printf '%s\n' "$fqdn" | sed 's/^.*\.\([^.]*\.[^.]*\)$/\1/')"
add locals "$fqdn"
add rcpthosts "$fqdn"
echo "Now qmail will refuse to accept SMTP messages except to the hosts in control/rcpthosts."
echo "Make sure to change rcpthosts if you add hosts to locals or virtualdomains!"
exit 0
