#!/bin/sh
# deb.sh OUTDIR - build a Debian package of the suite with dpkg-deb, offline.
# It installs under /var/qmail (the package is built for that home): the
# programs, man pages (also in /usr/share/man), docs, boot scripts,
# sendmail/mailq/newaliases links, a systemd unit and daemontools run
# directories made by services.sh in /var/qmail/supervise (stopped). The
# postinst creates the qmail users and applies qmail's owners and modes
# from the same table make setup uses (scripts/hier.sh); the data files
# themselves carry no setuid bit until then. Purge removes /var/qmail and
# the logs; the users stay, as for other Debian MTAs.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: deb.sh OUTDIR}
case $out in /*) ;; *) out=$top/$out ;; esac
name=qmail-compat
home=/var/qmail
version=$(git -C "$top" log -1 --format=1.0+git%cd.%h --date=format:%Y%m%d 2>/dev/null || echo 1.0)
build=$out/build
root=$out/root
lib=/usr/lib/$name

make -s -C "$top" O="$build" QMAILHOME=$home all >/dev/null
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root$home" "$root$lib/scripts" "$root/lib/systemd/system" "$root/usr/sbin" \
  "$root/usr/lib" "$root/usr/bin"

# the tree: hier.sh's table, files copied now, modes applied by the postinst
sh "$top/scripts/hier.sh" "$build" | while read -r type path owner group mode arg; do
  case $type in
    d) mkdir -p "$root$home/$path" ;;
    f) mkdir -p "$(dirname "$root$home/$path")"
       cp "$arg" "$root$home/$path"
       # no setuid or setgid bit before the postinst sets the owner
       chmod "$(printf '%o' $((0$mode & 0777 | 0644)))" "$root$home/$path" ;;
  esac
done
sh "$top/scripts/hier.sh" "$build" | awk '{ print $1, $2, $3, $4, $5, ($1 == "z" ? $6 : "-") }' > "$root$lib/hier"
# directories the postinst fills (queue, alias, control, users) are made there
for d in queue alias control users; do rm -rf "$root$home/$d"; done

for m in "$top"/man/*.[1-8]; do
  n=${m##*/}
  mkdir -p "$root/usr/share/man/man${n##*.}"
  gzip -9n < "$m" > "$root/usr/share/man/man${n##*.}/$n.gz"
done
cp "$top/scripts/users.sh" "$top/scripts/setup.sh" "$top/scripts/services.sh" "$root$lib/scripts/"
cp "$top/conf-users" "$top/conf-groups" "$root$lib/"
echo $home > "$root$lib/conf-home"
cp "$top/scripts/qmail.service" "$root/lib/systemd/system/qmail.service"
ln -s $home/bin/sendmail "$root/usr/sbin/sendmail"
ln -s $home/bin/sendmail "$root/usr/lib/sendmail"
ln -s $home/bin/sendmail "$root/usr/bin/mailq"
ln -s $home/bin/sendmail "$root/usr/bin/newaliases"

size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<END
Package: $name
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: qmail-compat developers <postmaster@localhost>
Installed-Size: $size
Depends: ucspi-tcp | ucspi-tcp-ipv6, daemontools, adduser | passwd, libssl3
Recommends: publicsuffix
Provides: mail-transport-agent
Conflicts: mail-transport-agent
Replaces: mail-transport-agent
Section: mail
Priority: optional
Description: qmail-compatible mail transfer agent
 Small privilege-separated programs that do what netqmail 1.06 does, with
 the same programs, control files, .qmail files, queue layout and logs,
 installed under $home.
END

cat > "$root/DEBIAN/postinst" <<END
#!/bin/sh
# apply qmail's users, owners and modes (the table of make setup)
set -e
[ "\$1" = configure ] || exit 0
sh $lib/scripts/users.sh $home
sh $lib/scripts/setup.sh -t $lib/hier $home >/dev/null
# daemontools run directories, stopped: link them into /etc/service to run
[ -d $home/supervise ] || sh $lib/scripts/services.sh -H $home $home/supervise >/dev/null
[ -s $home/control/me ] ||
  echo "$name: set the host name with: $home/bin/config-fast your.host.name"
exit 0
END
cat > "$root/DEBIAN/prerm" <<END
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl stop qmail.service 2>/dev/null || true
fi
for d in $home/supervise/*; do
  [ -d "\$d" ] && command -v svc >/dev/null && svc -dx "\$d" "\$d/log" 2>/dev/null || true
done
exit 0
END
cat > "$root/DEBIAN/postrm" <<END
#!/bin/sh
# purge: the queue, control files, aliases and logs go too; users stay
set -e
[ "\$1" = purge ] || exit 0
rm -rf $home /var/log/qmail /etc/tcp.smtp /etc/tcp.smtp.cdb /etc/tcp.pop3 /etc/tcp.pop3.cdb
exit 0
END
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
deb=$out/${name}_${version}_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
