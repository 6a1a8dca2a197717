#!/bin/sh
# users.sh [HOME] - create the qmail groups and users if they are missing.
# Idempotent; needs root. HOME is the qmail home (default: conf-home).
set -e
home=${1:-$(head -n 1 "$(dirname "$0")/../conf-home")}
nologin=/usr/sbin/nologin
[ -x $nologin ] || nologin=/bin/false

group() { getent group "$1" >/dev/null || groupadd -r "$1"; }
user() { # name group home
  getent passwd "$1" >/dev/null ||
    useradd -r -g "$2" -d "$3" -M -s $nologin -c "qmail $1" "$1"
}

group qmail
group nofiles
user alias nofiles "$home/alias"
user qmaild nofiles "$home"
user qmaill nofiles "$home"
user qmailp nofiles "$home"
user qmailq qmail "$home"
user qmailr qmail "$home"
user qmails qmail "$home"
