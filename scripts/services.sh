#!/bin/sh
# services.sh - install daemontools run directories for a production qmail:
#   qmail-send   qmail-start with the default delivery, log/ to multilog
#   qmail-smtpd  qmail-smtpd under tcpserver, access rules from tcp.smtp.cdb
#   qmail-pop3d  qmail-popup + checkpassword + qmail-pop3d under tcpserver
# and, given a certificate (-C, -K), TLS and AUTH (doc/auth.md):
#   qmail-authd  the root password service qmail-smtpd asks (qmail-authcheck)
#   qmail-tlsd   the resident TLS engine (ucspi-tlsd -d) the TLS services use
#   qmail-smtpd  then offers STARTTLS, and AUTH after it
#   qmail-submission  port 587 (RFC 6409): STARTTLS, AUTH required
#   qmail-smtps  port 465 (RFC 8314): TLS from the start, AUTH required
#   qmail-pop3d  then offers STLS (RFC 2595)
#   qmail-pop3s  port 995 (RFC 8314): POP3 with TLS from the start
# each with a log/ service writing to LOGDIR/<name> as qmaill.
# Each directory is built under a dot name (svscan skips those) and renamed
# into place. New directories get a "down" file, so supervise leaves them
# stopped until "qmailctl start" (or svc -u); -s starts them now instead.
# Existing directories keep their supervise/ state and down files; only the
# run scripts are replaced. See doc/daemontools.md.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat >&2 <<USAGE
usage: services.sh [ -s ] [ -H home ] [ -L logdir ] [ -R rulesdir ] [ -o services ]
                   [ -a smtpaddr ] [ -p smtpport ] [ -q pop3port ] [ -D defaultdelivery ]
                   [ -m memlimit ] [ -C certfile -K keyfile ] [ -S authsocket ] [ -E tlssocket ]
                   [ -P submissionport ] [ -T smtpsport ] [ -Q pop3sport ] [ servicedir ]
  servicedir  default /etc/service if it exists, else /service if it exists,
              else /etc/service (created)
  -s          start the services now (no down files)
  -o          comma-separated subset of send,smtpd,pop3,authd,tlsd,submission,smtps,pop3s
              (default send,smtpd,pop3, and with -C also authd,tlsd,submission,smtps,pop3s)
  -C, -K      PEM certificate chain and key for ucspi-tlsd (read as root)
  -S          qmail-authd's socket (default /run/qmail/authd.sock)
  -E          qmail-tlsd's socket (default /run/qmail/tlsd.sock)
  -P, -T, -Q  the ports of submission (587), smtps (465) and pop3s (995)
USAGE
  exit 100
}

home=$(head -n 1 "$top/conf-home")
logdir=/var/log/qmail
rules=/etc
which=
addr=0
port=25
pop3port=110
dd=./Maildir/
mem=40000000
start=0
cert= key=
authsock=/run/qmail/authd.sock
tlssock=/run/qmail/tlsd.sock
subport=587
smtpsport=465
pop3sport=995
while getopts sH:L:R:o:a:p:q:D:m:C:K:S:E:P:T:Q: opt; do
  case $opt in
    s) start=1 ;;
    H) home=$OPTARG ;;
    L) logdir=$OPTARG ;;
    R) rules=$OPTARG ;;
    o) which=$OPTARG ;;
    a) addr=$OPTARG ;;
    p) port=$OPTARG ;;
    q) pop3port=$OPTARG ;;
    D) dd=$OPTARG ;;
    m) mem=$OPTARG ;;
    C) cert=$OPTARG ;;
    K) key=$OPTARG ;;
    S) authsock=$OPTARG ;;
    E) tlssock=$OPTARG ;;
    P) subport=$OPTARG ;;
    T) smtpsport=$OPTARG ;;
    Q) pop3sport=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
if [ $# = 1 ]; then
  sdir=$1
elif [ -d /etc/service ]; then
  sdir=/etc/service
elif [ -d /service ]; then
  sdir=/service
else
  sdir=/etc/service
fi
if [ -n "$cert$key" ] && { [ -z "$cert" ] || [ -z "$key" ]; }; then
  echo "services.sh: -C and -K go together" >&2; exit 100
fi
[ -n "$which" ] || { which=send,smtpd,pop3; [ -z "$cert" ] || which=$which,authd,tlsd,submission,smtps,pop3s; }
case ,$which, in *,submission,*|*,smtps,*|*,tlsd,*|*,pop3s,*)
  [ -n "$cert" ] || { echo "services.sh: submission, smtps, pop3s and tlsd need -C and -K" >&2; exit 100; } ;;
esac
for p in "$home" "$logdir" "$rules" "$sdir" "$authsock" "$tlssock" ${cert:+"$cert"} ${key:+"$key"}; do
  case $p in /*) ;; *) echo "services.sh: not an absolute path: $p" >&2; exit 100 ;; esac
  case $p in *[!A-Za-z0-9/._+-]*) echo "services.sh: unsafe characters in $p" >&2; exit 100 ;; esac
done
for n in "$port" "$pop3port" "$mem" "$subport" "$smtpsport" "$pop3sport"; do
  case $n in ''|*[!0-9]*) echo "services.sh: not a number: $n" >&2; exit 100 ;; esac
done
case $addr in ''|*[!0-9A-Za-z.:-]*) echo "services.sh: bad address: $addr" >&2; exit 100 ;; esac
case $dd in *"'"*) echo "services.sh: the default delivery may not contain a quote" >&2; exit 100 ;; esac

cuser() { sed -n "${1}p" "$top/conf-users"; }
gname() { sed -n "${1}p" "$top/conf-groups"; }
qmaild=$(cuser 2) qmaill=$(cuser 3) nofiles=$(gname 2)
root=$(id -u)

mkdir -p "$sdir"

# script DIR NAME - write DIR/NAME from stdin, mode 755, by rename
script() {
  cat > "$1/$2.new"
  chmod 755 "$1/$2.new"
  mv -f "$1/$2.new" "$1/$2"
}

# logdir NAME - LOGDIR/NAME owned by qmaill, for multilog
mklogdir() {
  mkdir -p "$logdir/$1"
  if [ "$root" = 0 ]; then chown "$qmaill" "$logdir/$1"; else
    echo "services.sh: warning: not root, $logdir/$1 not given to $qmaill" >&2; fi
  chmod 2755 "$logdir/$1"
}

# service NAME LOGNAME - build or update SDIR/NAME; the run text is on stdin
service() {
  name=$1
  final=$sdir/$name
  if [ -d "$final" ]; then
    dir=$final
  else
    dir=$sdir/.$name.new
    rm -rf "$dir"
    mkdir -p "$dir/log"
    if [ $start = 0 ]; then : > "$dir/down"; : > "$dir/log/down"; fi
  fi
  chmod 1755 "$dir"
  mkdir -p "$dir/log"
  script "$dir" run
  mklogdir "$2"
  script "$dir/log" run <<LOGRUN
#!/bin/sh
# the log of $name: multilog as $qmaill, TAI64N stamps, 20 files of 1 MB
exec setuidgid $qmaill multilog t s1000000 n20 $logdir/$2
LOGRUN
  if [ "$dir" != "$final" ]; then mv "$dir" "$final"; fi
  if [ $start = 1 ]; then rm -f "$final/down" "$final/log/down"; fi
  echo "services.sh: $final"
}

# rules NAME DEFAULT - create RULES/NAME once, then build NAME.cdb
mkrules() {
  if [ ! -f "$rules/$1" ]; then
    printf '%s\n' "$2" > "$rules/$1"
    chmod 644 "$rules/$1"
    echo "services.sh: wrote $rules/$1"
  fi
  if command -v tcprules > /dev/null 2>&1; then
    tcprules "$rules/$1.cdb" "$rules/$1.tmp" < "$rules/$1"
    chmod 644 "$rules/$1.cdb"
  else
    echo "services.sh: warning: tcprules not found; build $rules/$1.cdb later with qmailctl cdb" >&2
  fi
}

path="$home/bin:/usr/local/bin:/usr/bin:/bin"

case ,$which, in *,send,*)
service qmail-send send <<RUN
#!/bin/sh
# qmail-send and its helpers under supervise; the log goes to ./log.
# The default delivery is the first line of control/defaultdelivery, if any.
exec 2>&1
cd $home || exit 111
dd=\$(sed -n 1p control/defaultdelivery 2>/dev/null)
[ -n "\$dd" ] || dd='$dd'
exec env - PATH="$path" qmail-start "\$dd"
RUN
;; esac

# qmaildids - the lines of a run script that set uid and gid to those of
# $qmaild and $nofiles
qmaildids() {
  cat <<RUN
uid=\$(id -u $qmaild) || exit 111
gid=\$(getent group $nofiles | cut -d: -f3)
[ -n "\$gid" ] || exit 111
RUN
}

# smtphead NAME - what every SMTP run script does first: its log on
# stdout, the uid of $qmaild and the gid of $nofiles, the connections at
# once (control/concurrencyincoming, else 20), the local name (control/me)
smtphead() {
  echo 'exec 2>&1'
  qmaildids
  cat <<RUN
max=\$(sed -n 1p $home/control/concurrencyincoming 2>/dev/null)
[ -n "\$max" ] || max=20
local=\$(sed -n 1p $home/control/me 2>/dev/null)
[ -n "\$local" ] || { echo "$1: $home/control/me is missing; run config-fast"; exit 111; }
RUN
}

# smtprun NAME PORT RULES ENV TLSFLAG - the run script of an SMTP service
# with TLS and AUTH: tcpserver as root, ucspi-tlsd-front hands the
# connection to qmail-tlsd (or, while that is down, runs ucspi-tlsd, which
# reads the key itself) and runs qmail-smtpd as $qmaild; logins go to
# qmail-authd. Without qmail-tlsd, ucspi-tlsd itself.
engine= helper=ucspi-tlsd
case ,$which, in *,tlsd,*) engine="TLSENGINE=$tlssock " helper=ucspi-tlsd-front ;; esac
smtprun() {
  cat <<RUN
#!/bin/sh
# $1: qmail-smtpd on $addr:$2 behind $helper$5 (TLS), AUTH through
# qmail-authcheck and qmail-authd on $authsock. Rules: $rules/$3.cdb.
RUN
  smtphead "$1"
  cat <<RUN
exec env - PATH="$path" ${engine}CERTFILE=$cert KEYFILE=$key UID="\$uid" GID="\$gid" $4 \\
  softlimit -m $mem \\
  tcpserver -v -R -l "\$local" -x $rules/$3.cdb -c "\$max" $addr $2 \\
    $home/bin/$helper$5 $home/bin/qmail-smtpd $home/bin/qmail-authcheck $authsock true
RUN
}

case ,$which, in *,authd,*)
service qmail-authd authd <<RUN
#!/bin/sh
# qmail-authd as root: checks system passwords for qmail-smtpd (running as
# $qmaild, through qmail-authcheck) on $authsock, mode 0660 for $qmaild only.
exec 2>&1
mkdir -p ${authsock%/*} || exit 111
exec env - PATH="$path" $home/bin/qmail-authd $authsock $home/bin/checkpassword true
RUN
;; esac

case ,$which, in *,tlsd,*)
{
cat <<RUN
#!/bin/sh
# ucspi-tlsd -d as root: reads the key (again when it changes) and serves
# the TLS of the SMTP and POP3 services on $tlssock, each connection in a worker
# running as $qmaild.
exec 2>&1
RUN
qmaildids
cat <<RUN
mkdir -p ${tlssock%/*} || exit 111
exec env - PATH="$path" CERTFILE=$cert KEYFILE=$key UID="\$uid" GID="\$gid" \\
  $home/bin/ucspi-tlsd -d $tlssock
RUN
} | service qmail-tlsd tlsd
;; esac

case ,$which, in *,smtpd,*)
mkrules tcp.smtp '# tcprules(1) input for qmail-smtpd: this host may relay, others deliver here
127.:allow,RELAYCLIENT=""
:allow'
if [ -n "$cert" ]; then
  smtprun qmail-smtpd "$port" tcp.smtp "" "" | service qmail-smtpd smtpd
else
{
cat <<RUN
#!/bin/sh
# qmail-smtpd under tcpserver as $qmaild/$nofiles on $addr:$port. Rules:
# $rules/tcp.smtp.cdb (qmailctl cdb rebuilds it). Connections at once:
# control/concurrencyincoming, else 20.
RUN
smtphead qmail-smtpd
cat <<RUN
exec env - PATH="$path" softlimit -m $mem \\
  tcpserver -v -R -l "\$local" -x $rules/tcp.smtp.cdb -c "\$max" \\
    -u "\$uid" -g "\$gid" $addr $port $home/bin/qmail-smtpd
RUN
} | service qmail-smtpd smtpd
fi
;; esac

# authservice NAME PORT TLSOPT - the service qmail-NAME: AUTH required of
# everyone (rules tcp.submission, shared by submission and smtps)
authservice() {
  mkrules tcp.submission '# tcprules(1) input for the submission service: AUTH is required of everyone
:allow'
  smtprun "qmail-$1" "$2" tcp.submission AUTHREQUIRED=1 "$3" | service "qmail-$1" "$1"
}
case ,$which, in *,submission,*) authservice submission "$subport" "" ;; esac
case ,$which, in *,smtps,*) authservice smtps "$smtpsport" " -i" ;; esac

# pop3run NAME PORT TLSFLAG - the run script of a POP3 service:
# qmail-popup asks for the password, checkpassword checks it and becomes
# the user, qmail-pop3d serves ~/Maildir. With a certificate, behind
# $helper (STLS, or -i: TLS from the start) with the TLS engine as
# $qmaild and qmail-popup as root, which checkpassword needs.
pop3run() {
  tlsenv= tlsprog=
  cat <<RUN
#!/bin/sh
# $1 on $addr:$2. Rules: $rules/tcp.pop3.cdb.
exec 2>&1
local=\$(sed -n 1p $home/control/me 2>/dev/null)
[ -n "\$local" ] || { echo "$1: $home/control/me is missing; run config-fast"; exit 111; }
check=$home/bin/checkpassword
[ -x "\$check" ] || check=/bin/checkpassword
RUN
  if [ -n "$cert" ]; then
    qmaildids
    tlsenv="${engine}CERTFILE=$cert KEYFILE=$key TLS_UID=\"\$uid\" TLS_GID=\"\$gid\" "
    tlsprog="$home/bin/$helper$3 "
  fi
  cat <<RUN
exec env - PATH="$path" ${tlsenv}softlimit -m $mem \\
  tcpserver -v -R -H -l "\$local" -x $rules/tcp.pop3.cdb $addr $2 \\
    ${tlsprog}$home/bin/qmail-popup "\$local" "\$check" $home/bin/qmail-pop3d Maildir
RUN
}

case ,$which, in *,pop3,*|*,pop3s,*)
mkrules tcp.pop3 '# tcprules(1) input for qmail-popup
:allow' ;;
esac
case ,$which, in *,pop3,*) pop3run qmail-pop3d "$pop3port" "" | service qmail-pop3d pop3d ;; esac
case ,$which, in *,pop3s,*) pop3run qmail-pop3s "$pop3sport" " -i" | service qmail-pop3s pop3s ;; esac

if [ $start = 1 ]; then
  echo "services.sh: started; svscan on $sdir brings them up within five seconds"
else
  echo "services.sh: installed stopped (down files); start with: qmailctl -d $sdir start"
  echo "services.sh: remove the down files to have svscan start them at boot"
fi
