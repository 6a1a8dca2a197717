#!/bin/sh
# test-deps.sh [try] - install the Debian packages the build and the tests
# need (with "try": only what make try needs), only when something is
# missing. Needs root (or nothing to install).
pkgs="make gcc musl-tools python3 python3-pytest ucspi-tcp-ipv6 daemontools swaks python3-aiosmtpd dnsmasq-base iproute2 libcrypt-dev libssl-dev openssl fetchmail dovecot-core dovecot-imapd cyrus-common groff-base postfix strace chromium clang afl++ msmtp python3-dkim python3-nacl opendkim-tools python3-spf python3-yaml python3-dnslib publicsuffix"
[ "$1" = try ] && pkgs="make gcc musl-tools libcrypt-dev libssl-dev openssl python3 ucspi-tcp-ipv6 daemontools swaks"
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "test-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix is only a test peer and a benchmark rival: install it unconfigured
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
apt-get update -qq || exit 111
apt-get install -y -qq $missing >/dev/null || exit 111
