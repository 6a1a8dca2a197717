#!/bin/sh
# try.sh [start|stop|status] - a complete MTA in ./try (or $TRYDIR, an
# absolute path), never touching /var/qmail. start builds with its home in
# ./try/home, installs, starts under svscan qmail-send (logging through
# multilog), qmail-smtpd on 127.0.0.1:2525 (or $TRYPORT) and qmail-pop3d on
# 127.0.0.1:2110 (or $TRYPOP3PORT), sends itself a test message and reads it back over POP3. Every local address is
# delivered to the Maildir of the account trymail, whose POP3 password is in
# ./try/password. stop ends what start began.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
try=${TRYDIR:-$top/try}
home=$try/home
svc=$try/service
port=${TRYPORT:-2525}
pop3port=${TRYPOP3PORT:-2110}
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
sh scripts/test-deps.sh try
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
# DKIM: mail from localhost leaves signed (qmail-dkimsign(8)); the record is in $try/dkim-record
[ -f "$home/control/dkim-try.pem" ] ||
  "$home/bin/qmail-dkimkeygen" localhost try "$home/control/dkim-try.pem" > "$try/dkim-record"
echo 'localhost:try:dkim-try.pem' > "$home/control/dkimkeys"

# every local address goes to the Maildir of one account, trymail, whose
# password (in $try/password) also opens it over POP3
mbox=$try/trymail
getent passwd trymail >/dev/null ||
  useradd -r -U -d "$mbox" -M -s /usr/sbin/nologin -c "make try mailbox" trymail
usermod -d "$mbox" trymail
[ -s "$try/password" ] || { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$try/password"; }
chmod 600 "$try/password"
echo "trymail:$(cat "$try/password")" | chpasswd
mkdir -p "$mbox"
[ -d "$mbox/Maildir" ] || "$home/bin/maildirmake" "$mbox/Maildir"
echo './Maildir/' > "$mbox/.qmail-default"
chmod 644 "$mbox/.qmail-default"
chown -R trymail:trymail "$mbox"
chmod 755 "$mbox"
tuid=$(id -u trymail) tgid=$(id -g trymail)
printf '+:trymail:%s:%s:%s:-::\n.\n' "$tuid" "$tgid" "$mbox" > "$home/users/assign"
"$home/bin/qmail-newu"

# daemontools service directories
qmaild=$(id -u qmaild) nofiles=$(getent group nofiles | cut -d: -f3)
mkdir -p "$svc/send/log/main" "$svc/smtpd/log/main" "$svc/pop3d/log/main"
cat > "$svc/send/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" $home/bin/qmail-start ./Maildir/ 2>&1
END
cat > "$svc/smtpd/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" tcpserver -v -R -H -l localhost -u $qmaild -g $nofiles 127.0.0.1 $port $home/bin/qmail-smtpd 2>&1
END
cat > "$svc/pop3d/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" tcpserver -v -R -H -l localhost 127.0.0.1 $pop3port $home/bin/qmail-popup localhost $home/bin/checkpassword $home/bin/qmail-pop3d Maildir 2>&1
END
for s in send smtpd pop3d; do
  printf '#!/bin/sh\nexec multilog t ./main\n' > "$svc/$s/log/run"
  chmod 755 "$svc/$s/run" "$svc/$s/log/run"
done
chown -R qmaill "$svc/send/log/main" "$svc/smtpd/log/main" "$svc/pop3d/log/main"
svscan "$svc" > "$try/svscan.log" 2>&1 &
echo $! > "$try/svscan.pid"

# wait for the SMTP port, then send a test message through it
i=0
until swaks --server 127.0.0.1 --port "$port" --quit-after CONNECT >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "try: qmail-smtpd did not start; see $svc/smtpd/log/main/current" >&2; exit 111; }
  sleep 0.1
done
count() { ls "$mbox/Maildir/new" "$mbox/Maildir/cur" 2>/dev/null | grep -v -e '^$' -e ':$' | wc -l; }
before=$(count)
swaks --server 127.0.0.1 --port "$port" --to try@localhost --from you@localhost \
  --header 'Subject: make try' --body 'Hello from make try.' >"$try/swaks.log" 2>&1 ||
  { echo "try: swaks failed, see $try/swaks.log" >&2; exit 111; }
i=0
until [ "$(count)" -gt "$before" ]; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "try: the test message was not delivered; see $svc/send/log/main/current" >&2; exit 111; }
  sleep 0.1
done
landed=$(ls -d "$mbox/Maildir/new"/* | tail -n 1)
# the header qmail-remote would put on it (before POP3 moves it to cur/)
signed=$(runuser -u qmailr -- "$home/bin/qmail-dkimsign" < "$landed" | head -n 1 | tr -d "\r")
# read the mailbox back over POP3 (without deleting anything; qmail-pop3d
# moves what it has seen from new/ to cur/)
i=0
until pop=$(python3 -c 'import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("trymail"); p.pass_(sys.argv[2]); print(p.stat()[0]); p.quit()' "$pop3port" "$(cat "$try/password")" 2>/dev/null); do
  i=$((i + 1)); [ $i -lt 50 ] || { echo "try: POP3 login failed; see $svc/pop3d/log/main/current" >&2; exit 111; }
  sleep 0.2
done
cat <<END

The MTA is running from $try.
  A test message went in over SMTP and landed in:
    $landed
  POP3 on 127.0.0.1:$pop3port sees $pop message(s) for trymail.
  DKIM:        mail from localhost leaves signed; qmail-dkimsign on it gave
    $signed
    (the DNS record to publish is in $try/dkim-record)
  Send mail:   swaks --server 127.0.0.1 --port $port --to you@localhost
           or  $home/bin/sendmail you@localhost < message
  Mailbox:     $mbox/Maildir/  (every local address lands here)
  Read it:     POP3 127.0.0.1:$pop3port, user trymail, password in $try/password
  Logs:        tail -f $svc/send/log/main/current | tai64nlocal
  Queue:       $home/bin/qmail-qread
  Stop:        make try-stop  (or: sh scripts/try.sh stop)
