#!/bin/sh
# run.sh [fsync|local|smtp|remote ...] - the speed benchmarks (bench/README.md).
# Builds the suite for a bench home (O, default build/bench; QMAILHOME,
# default $O/home), installs it there, compiles bench/rates.c, and runs
# bench/bench.py, which measures ours and a private Postfix in one run and
# prints the table. Needs root. BENCH_NOBUILD=1 skips the build and install.
# Postfix is installed from Debian only when no MTA owns /usr/sbin/sendmail.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 111
O=${O:-build/bench}
case $O in /*) ;; *) O=$top/$O ;; esac
QMAILHOME=${QMAILHOME:-$O/home}

if [ "$(id -u)" != 0 ]; then
  echo "bench: must run as root" >&2
  exit 100
fi

if [ ! -x /usr/sbin/postfix ] && [ ! -e /usr/sbin/sendmail ]; then
  echo "bench: installing Debian's postfix (no configuration; not started)"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; } ||
    echo "bench: could not install postfix; its column stays empty" >&2
fi
for p in tcpserver; do
  command -v $p >/dev/null || echo "bench: $p missing (apt-get install ucspi-tcp)" >&2
done

mkdir -p "$O/bench/tools" || exit 111
if [ -z "$BENCH_NOBUILD" ]; then
  # -k: a program that does not build yet is simply not installed
  make -k O="$O" QMAILHOME="$QMAILHOME" all >"$O/bench/build.log" 2>&1 ||
    echo "bench: some programs did not build; see $O/bench/build.log" >&2
  # the accounts' homes stay conf-home's (users.sh's default): the bench
  # delivers through users/assign and never to alias
  sh scripts/users.sh || exit 111
  sh scripts/setup.sh "$O" "$QMAILHOME" >/dev/null || echo "bench: setup.sh failed" >&2
fi
${CC:-gcc} -O2 -Wall -o "$O/bench/tools/rates" bench/rates.c || exit 111

exec python3 -B bench/bench.py --build "$O" --home "$QMAILHOME" "$@"
