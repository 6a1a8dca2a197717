#!/bin/sh
# canary.sh CANARY DIR - check that a sanitizer report reaches DIR from a
# setuid (qmailq) program run by another user (nobody) with an empty
# environment, the way qmail-queue and qmail-local run; then remove it.
# Exit 0 when it did, 1 when not (then an empty DIR would prove nothing).
set -e
canary=$1 dir=$2
q=$(sed -n 6p "$(dirname "$0")/../../conf-users")
before=$(ls "$dir" | wc -l)
chown "$q" "$canary" && chmod 4711 "$canary"
runuser -u nobody -- env -i "$canary" && { echo "sanitize: canary was not stopped" >&2; exit 1; }
new=$(find "$dir" -type f -user "$q" -newer "$canary" -name 'report.*' -exec grep -l 'signed integer overflow' {} +)
[ -n "$new" ] || { echo "sanitize: no report from the canary in $dir" >&2; exit 1; }
rm -f $new
[ "$(ls "$dir" | wc -l)" = "$before" ]
echo "sanitize: a setuid program under another uid reports into $dir"
