#!/bin/sh
# try.sh [start|stop|status] - a complete MTA in ./try (or $TRYDIR, an
# absolute path), never touching /var/qmail. start builds with its home in
# ./try/home, installs, starts under svscan qmail-send (logging through
# multilog), qmail-smtpd on 127.0.0.1:2525 and [::1]:2525 (or $TRYPORT) and qmail-pop3d on
# 127.0.0.1:2110 (or $TRYPOP3PORT), sends itself a test message and reads it back over POP3. Every local address is
# delivered to the Maildir of the instance's own account (try + 8 hex digits
# of its directory's md5, named in ./try/user), whose POP3 password is in
# ./try/password. With a self-signed certificate (./try/tls, made by
# openssl) qmail-smtpd also offers STARTTLS and AUTH, and serves submission
# on 127.0.0.1:2587 ($TRYSUBPORT) and SMTPS on 127.0.0.1:2465
# ($TRYSMTPSPORT), where that account logs in with the same password (checked by
# qmail-authd). stop ends what start began.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
try=${TRYDIR:-$top/try}
home=$try/home
svc=$try/service
port=${TRYPORT:-2525}
pop3port=${TRYPOP3PORT:-2110}
subport=${TRYSUBPORT:-2587}
smtpsport=${TRYSMTPSPORT:-2465}
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
# the qmail accounts get a real install's homes (conf-home), not this
# directory: a later make setup under conf-home finds them right, and this
# instance routes every local address through users/assign (below), so
# alias's home is never looked up here
sh scripts/users.sh
make -s O="$try/build" QMAILHOME="$home" all
make -s O="$try/build" QMAILHOME="$home" setup check

# control files: this instance is "localhost"
echo localhost > "$home/control/me"
# qmail-inject qualifies a host without a dot with defaultdomain (here
# localhost too): root, user and user@localhost all become
# user@localhost.localhost, so that name is local as well
printf 'localhost\nlocalhost.localhost\n' > "$home/control/locals"
printf 'localhost\nlocalhost.localhost\n' > "$home/control/rcpthosts"
# DKIM: mail from localhost leaves signed (qmail-dkimsign(8)); the record is in $try/dkim-record
[ -f "$home/control/dkim-try.pem" ] ||
  "$home/bin/qmail-dkimkeygen" localhost try "$home/control/dkim-try.pem" > "$try/dkim-record"
echo 'localhost:try:dkim-try.pem' > "$home/control/dkimkeys"

# every local address goes to the Maildir of one account, whose
# password (in $try/password) also opens it over POP3
# (one account per instance, named after its directory, in $try/user)
mbox=$try/trymail
tryuser=try$(printf '%s' "$try" | md5sum | cut -c1-8)
echo "$tryuser" > "$try/user"
getent passwd "$tryuser" >/dev/null ||
  useradd -r -U -d "$mbox" -M -s /usr/sbin/nologin -c "make try mailbox for $try" "$tryuser"
[ "$(getent passwd "$tryuser" | cut -d: -f6)" = "$mbox" ] || usermod -d "$mbox" "$tryuser"
[ -s "$try/password" ] || { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$try/password"; }
chmod 600 "$try/password"
echo "$tryuser:$(cat "$try/password")" | chpasswd
mkdir -p "$mbox"
[ -d "$mbox/Maildir" ] || "$home/bin/maildirmake" "$mbox/Maildir"
echo './Maildir/' > "$mbox/.qmail-default"
chmod 644 "$mbox/.qmail-default"
chown -R "$tryuser:$tryuser" "$mbox"
chmod 755 "$mbox"
tuid=$(id -u "$tryuser") tgid=$(id -g "$tryuser")
printf '+:%s:%s:%s:%s:-::\n.\n' "$tryuser" "$tuid" "$tgid" "$mbox" > "$home/users/assign"
"$home/bin/qmail-newu"

# a self-signed certificate for localhost, the key readable by root only
# (ucspi-tlsd reads it before it drops to qmaild)
mkdir -p "$try/tls"
if [ ! -s "$try/tls/cert.pem" ] || [ ! -s "$try/tls/key.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$try/tls/key.pem" -out "$try/tls/cert.pem" >/dev/null 2>&1 ||
    { echo "try: openssl could not make a certificate" >&2; exit 111; }
fi
chmod 600 "$try/tls/key.pem"
chmod 644 "$try/tls/cert.pem"
mkdir -p "$try/run"
chmod 755 "$try/run"

# daemontools service directories
qmaild=$(id -u qmaild) nofiles=$(getent group nofiles | cut -d: -f3)
services="qmail-send qmail-smtpd qmail-smtpd6 qmail-pop3d qmail-authd qmail-submission qmail-smtps"
for s in $services; do mkdir -p "$svc/$s/log/main"; done
tlsenv="CERTFILE=$try/tls/cert.pem KEYFILE=$try/tls/key.pem UID=$qmaild GID=$nofiles"
auth="$home/bin/qmail-authcheck $try/run/authd.sock true"
# smtprun SERVICE ADDR PORT [ENV [-i]] - its run file: qmail-smtpd behind
# ucspi-tlsd (STARTTLS, or TLS at once with -i) with AUTH through qmail-authd
smtprun() {
  cat > "$svc/$1/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" $tlsenv $4 tcpserver -v -R -H -l localhost $2 $3 ucspi-tlsd $5 $home/bin/qmail-smtpd $auth 2>&1
END
}
cat > "$svc/qmail-send/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" $home/bin/qmail-start ./Maildir/ 2>&1
END
smtprun qmail-smtpd 127.0.0.1 "$port"
smtprun qmail-smtpd6 ::1 "$port"     # the same on IPv6 loopback (ucspi-tcp-ipv6's tcpserver)
smtprun qmail-submission 127.0.0.1 "$subport" AUTHREQUIRED=1
smtprun qmail-smtps 127.0.0.1 "$smtpsport" AUTHREQUIRED=1 -i
cat > "$svc/qmail-authd/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" $home/bin/qmail-authd $try/run/authd.sock $home/bin/checkpassword true 2>&1
END
cat > "$svc/qmail-pop3d/run" <<END
#!/bin/sh
exec env - PATH="$home/bin:/usr/bin:/bin" tcpserver -v -R -H -l localhost 127.0.0.1 $pop3port $home/bin/qmail-popup localhost $home/bin/checkpassword $home/bin/qmail-pop3d Maildir 2>&1
END
for s in $services; do
  printf '#!/bin/sh\nexec multilog t ./main\n' > "$svc/$s/log/run"
  chmod 755 "$svc/$s/run" "$svc/$s/log/run"
  chown -R qmaill "$svc/$s/log/main"
done
svscan "$svc" > "$try/svscan.log" 2>&1 &
echo $! > "$try/svscan.pid"

# wait for the SMTP port, then send a test message through it
# waitfor WHY COMMAND... - COMMAND, every 0.1 s until it succeeds; after
# 100 tries "try: WHY" and exit 111
waitfor() {
  why=$1; shift
  i=0
  until "$@"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "try: $why" >&2; exit 111; }
    sleep 0.1
  done
}
# listens HOST PORT [SWAKS-TLS-OPTION] - does an SMTP server answer there?
listens() { swaks --server "$1" --port "$2" $3 --quit-after CONNECT >/dev/null 2>&1; }
count() { ls "$mbox/Maildir/new" "$mbox/Maildir/cur" 2>/dev/null | grep -v -e '^$' -e ':$' | wc -l; }
# more N - does the mailbox hold more than N messages?
more() { [ "$(count)" -gt "$1" ]; }
waitfor "qmail-smtpd did not start; see $svc/qmail-smtpd/log/main/current" listens 127.0.0.1 "$port"
waitfor "qmail-smtpd on ::1 did not start; see $svc/qmail-smtpd6/log/main/current" listens ::1 "$port"
before=$(count)
swaks --server 127.0.0.1 --port "$port" --to try@localhost --from you@localhost \
  --header 'Subject: make try' --body 'Hello from make try.' >"$try/swaks.log" 2>&1 ||
  { echo "try: swaks failed, see $try/swaks.log" >&2; exit 111; }
waitfor "the test message was not delivered; see $svc/qmail-send/log/main/current" more "$before"
landed=$(ls -d "$mbox/Maildir/new"/* | tail -n 1)
# the header qmail-remote would put on it (before POP3 moves it to cur/)
signed=$(runuser -u qmailr -- "$home/bin/qmail-dkimsign" < "$landed" | head -n 1 | tr -d "\r")
# submit as a mail client would: STARTTLS + AUTH on submission, AUTH on SMTPS
for p in "$subport --tls" "$smtpsport --tlsc"; do
  waitfor "submission or smtps did not start; see $svc/*/log/main/current" test -S "$try/run/authd.sock"
  waitfor "submission or smtps did not start; see $svc/*/log/main/current" listens 127.0.0.1 ${p%% *} ${p#* }
  before=$(count)
  swaks --server 127.0.0.1 --port ${p%% *} ${p#* } --auth PLAIN --auth-user "$tryuser" \
    --auth-password "$(cat "$try/password")" --to try@localhost --from trymail@localhost \
    --header 'Subject: make try submission' --body 'Submitted with TLS and AUTH.' >"$try/swaks-submit.log" 2>&1 ||
    { echo "try: submission on port ${p%% *} failed, see $try/swaks-submit.log" >&2; exit 111; }
  waitfor "the submitted message was not delivered; see $svc/qmail-send/log/main/current" more "$before"
done
# read the mailbox back over POP3 (without deleting anything; qmail-pop3d
# moves what it has seen from new/ to cur/)
i=0
until pop=$(python3 -c 'import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user(sys.argv[3]); p.pass_(sys.argv[2]); print(p.stat()[0]); p.quit()' "$pop3port" "$(cat "$try/password")" "$tryuser" 2>/dev/null); do
  i=$((i + 1)); [ $i -lt 50 ] || { echo "try: POP3 login failed; see $svc/qmail-pop3d/log/main/current" >&2; exit 111; }
  sleep 0.2
done
# the POP3 look moved the test message to cur/: say where it is now
landed=$(ls -d "$mbox/Maildir/new/${landed##*/}" "$mbox/Maildir/cur/${landed##*/}:"* 2>/dev/null | head -n 1)
# how to stop this instance (the same environment as this start)
stopcmd="make try-stop"
[ -z "${TRYDIR:-}" ] || stopcmd="TRYDIR=$TRYDIR $stopcmd"
cat <<END

The MTA is running from $try.
  A test message went in over SMTP and landed in:
    $landed
  POP3 on 127.0.0.1:$pop3port sees $pop message(s) for $tryuser.
  DKIM:        mail from localhost leaves signed; qmail-dkimsign on it gave
    $signed
    (the DNS record to publish is in $try/dkim-record)
  Send mail:   swaks --server 127.0.0.1 --port $port --to you@localhost
           or  swaks --server ::1 --port $port --to you@localhost
           or  $home/bin/sendmail you@localhost < message
  Submit as a mail client (STARTTLS on $subport, or TLS at once on $smtpsport with --tlsc):
               swaks --server 127.0.0.1 --port $subport --tls --auth PLAIN --auth-user $tryuser \\
                 --auth-password "\$(cat $try/password)" --to you@localhost
               (certificate: $try/tls/cert.pem; it is self-signed)
  Mailbox:     $mbox/Maildir/  (every local address lands here)
  Read it:     POP3 127.0.0.1:$pop3port, user $tryuser, password in $try/password
  Logs:        tail -f $svc/qmail-send/log/main/current | tai64nlocal
  Queue:       $home/bin/qmail-qread
  Stop:        $stopcmd  (or: TRYDIR=$try sh scripts/try.sh stop)
  Control:     $home/bin/qmailctl -d $svc stat   (also reload, doqueue, stop, start)
