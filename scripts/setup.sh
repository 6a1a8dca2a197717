#!/bin/sh
# setup.sh BUILD HOME - install the built programs into HOME with qmail's tree,
# owners and modes (scripts/hier.sh). Safe over a live installation: existing
# queue files, control files and users/ are left alone; programs are replaced
# by rename so running ones keep going.
# setup.sh -t TABLE HOME - the same over a table hier.sh wrote earlier, with
# the programs already in place (the Debian package's postinst): an f row
# only gets its owner and mode.
set -e
table=
if [ "$1" = -t ]; then table=$2; build=; home=$3; else build=$1; home=$2; fi
[ -n "$build$table" ] && [ -n "$home" ] || { echo "usage: setup.sh BUILD HOME | setup.sh -t TABLE HOME" >&2; exit 100; }
case $home in /*) ;; *) echo "setup: home must be an absolute path: $home" >&2; exit 100 ;; esac
mkdir -p "$home"
rows() { if [ -n "$table" ]; then cat "$table"; else sh "$(dirname "$0")/hier.sh" "$build"; fi; }
rows | while read -r type path owner group mode arg; do
  t=$home/$path
  case $type in
    d) if [ ! -d "$t" ]; then
         mkdir -p "$t"
         # a placement hint, where the file system has one (ext4's
         # chattr +T): the mess/N directories made next are spread over
         # the disk, and qmail-queue's new inodes with them (doc/queue.md)
         [ "$path" != queue/mess ] || chattr +T "$t" 2>/dev/null || true
       fi ;;
    f) if [ -n "$table" ]; then
         [ -e "$t" ] || continue
       else
         cp "$arg" "$t.new"; chown "$owner:$group" "$t.new"; chmod "$mode" "$t.new"
         mv -f "$t.new" "$t"; continue
       fi ;;
    z) [ -f "$t" ] || head -c "$arg" /dev/zero > "$t" ;;
    p) [ -p "$t" ] || mkfifo "$t" ;;
  esac
  chown "$owner:$group" "$t"
  chmod "$mode" "$t"
done
echo "setup: installed into $home"
