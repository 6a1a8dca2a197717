#!/bin/sh
# test-deps.sh - install the Debian packages the build and the tests need,
# only when something is missing. Needs root (or nothing to install).
pkgs="make gcc python3 python3-pytest ucspi-tcp daemontools swaks python3-aiosmtpd dnsmasq-base iproute2 libcrypt-dev fetchmail dovecot-core dovecot-imapd cyrus-common groff-base"
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "test-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 111
apt-get install -y -qq $missing >/dev/null || exit 111
