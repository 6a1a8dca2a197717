#!/bin/sh
# try.sh [start|stop|status] - a complete MTA in ./try (or $TRYDIR, an
# absolute path) on 127.0.0.1:2525 (or $TRYPORT), never touching /var/qmail. start builds with its home in ./try/home, installs,
# starts qmail-send (logging through multilog) and qmail-smtpd on
# 127.0.0.1:2525 under svscan, and sends itself a test message. Every local
# address is delivered to ./try/home/alias/Maildir. stop ends what start began.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
try=${TRYDIR:-$top/try}
home=$try/home
svc=$try/service
port=${TRYPORT:-2525}
cd "$top"

stop() {
  # svscan first, or it would start a new supervise for each service we end
  if [ -f "$try/svscan.pid" ]; then
    pid=$(cat "$try/svscan.pid")
    kill "$pid" 2>/dev/null || true
    rm -f "$try/svscan.pid"
  fi
  [ -d "$svc" ] || { echo "try: not running"; return 0; }
  # each supervise takes its service down and then exits
  svc -dx "$svc"/* "$svc"/*/log 2>/dev/null || true
  i=0
  for d in "$svc"/* "$svc"/*/log; do
    while [ $i -lt 200 ] && svok "$d" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
  done
  [ $i -lt 200 ] || { echo "try: some services did not stop; see svstat $svc/*" >&2; return 111; }
  echo "try: stopped"
}

case ${1:-start} in
  stop) stop; exit 0 ;;
  status) svstat "$svc"/* 2>/dev/null || echo "try: not running"; exit 0 ;;
  start) ;;
  *) echo "usage: try.sh [start|stop|status]" >&2; exit 100 ;;
esac

[ "$(id -u)" = 0 ] || { echo "try: run as root (it creates the qmail users and switches uids)" >&2; exit 100; }
sh scripts/test-deps.sh
d=$top
while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
stop >/dev/null 2>&1 || true
mkdir -p "$try"
sh scripts/users.sh "$home"
make -s O="$try/build" QMAILHOME="$home" all
make -s O="$try/build" QMAILHOME="$home" setup check

# control files: this instance is "localhost"
echo localhost > "$home/control/me"
printf 'localhost\n' > "$home/control/locals"
printf 'localhost\n' > "$home/control/rcpthosts"

# every local address goes to the alias user's Maildir
auid=$(id -u alias) agid=$(id -g alias)
printf '+:alias:%s:%s:%s:-::\n.\n' "$auid" "$agid" "$home/alias" > "$home/users/assign"
"$home/bin/qmail-newu"
[ -d "$home/alias/Maildir" ] || "$home/bin/maildirmake" "$home/alias/Maildir"
chown -R alias:nofiles "$home/alias/Maildir"
echo './Maildir/' > "$home/alias/.qmail-default"
chown alias:nofiles "$home/alias/.qmail-default"
chmod 644 "$home/alias/.qmail-default"

# daemontools service directories
qmaild=$(id -u qmaild) nofiles=$(getent group nofiles | cut -d: -f3)
mkdir -p "$svc/send/log/main" "$svc/smtpd/log/main"
cat > "$svc/send/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" $home/bin/qmail-start ./Maildir/ 2>&1
END
cat > "$svc/smtpd/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" tcpserver -v -R -H -l localhost -u $qmaild -g $nofiles 127.0.0.1 $port $home/bin/qmail-smtpd 2>&1
END
for s in send smtpd; do
  printf '#!/bin/sh\nexec multilog t ./main\n' > "$svc/$s/log/run"
  chmod 755 "$svc/$s/run" "$svc/$s/log/run"
done
chown -R qmaill "$svc/send/log/main" "$svc/smtpd/log/main"
svscan "$svc" > "$try/svscan.log" 2>&1 &
echo $! > "$try/svscan.pid"

# wait for the SMTP port, then send a test message through it
i=0
until swaks --server 127.0.0.1 --port "$port" --quit-after CONNECT >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "try: qmail-smtpd did not start; see $svc/smtpd/log/main/current" >&2; exit 111; }
  sleep 0.1
done
swaks --server 127.0.0.1 --port "$port" --to try@localhost --from you@localhost \
  --header 'Subject: make try' --body 'Hello from make try.' >"$try/swaks.log" 2>&1 ||
  { echo "try: swaks failed, see $try/swaks.log" >&2; exit 111; }
i=0
until [ -n "$(ls "$home/alias/Maildir/new" 2>/dev/null)" ]; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "try: the test message was not delivered; see $svc/send/log/main/current" >&2; exit 111; }
  sleep 0.1
done
cat <<END

The MTA is running from $try.
  A test message went in over SMTP and landed in:
    $(ls -d "$home/alias/Maildir/new"/* | tail -n 1)
  Send mail:   swaks --server 127.0.0.1 --port $port --to you@localhost
           or  $home/bin/sendmail you@localhost < message
  Mailbox:     $home/alias/Maildir/new/  (every local address lands here)
  Logs:        tail -f $svc/send/log/main/current | tai64nlocal
  Queue:       $home/bin/qmail-qread
  Stop:        make try-stop  (or: sh scripts/try.sh stop)
END
