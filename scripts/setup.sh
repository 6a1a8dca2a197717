#!/bin/sh
# setup.sh BUILD HOME - install the built programs into HOME with qmail's tree,
# owners and modes (scripts/hier.sh). Safe over a live installation: existing
# queue files, control files and users/ are left alone; programs are replaced
# by rename so running ones keep going.
set -e
build=$1
home=$2
[ -n "$build" ] && [ -n "$home" ] || { echo "usage: setup.sh BUILD HOME" >&2; exit 100; }
case $home in /*) ;; *) echo "setup: home must be an absolute path: $home" >&2; exit 100 ;; esac
mkdir -p "$home"
sh "$(dirname "$0")/hier.sh" "$build" | while read -r type path owner group mode arg; do
  t=$home/$path
  case $type in
    d) if [ ! -d "$t" ]; then
         mkdir -p "$t"
         # a placement hint, where the file system has one (ext4's
         # chattr +T): the mess/N directories made next are spread over
         # the disk, and qmail-queue's new inodes with them (doc/queue.md)
         [ "$path" != queue/mess ] || chattr +T "$t" 2>/dev/null || true
       fi ;;
    f) cp "$arg" "$t.new"; chown "$owner:$group" "$t.new"; chmod "$mode" "$t.new"
       mv -f "$t.new" "$t"; continue ;;
    z) [ -f "$t" ] || head -c "$arg" /dev/zero > "$t" ;;
    p) [ -p "$t" ] || mkfifo "$t" ;;
  esac
  chown "$owner:$group" "$t"
  chmod "$mode" "$t"
done
echo "setup: installed into $home"
