#!/bin/sh
# qmailctl - control qmail's daemontools services (qmailctl(8)): the run
# directory qmail-send and the listeners beside it named qmail-* (qmail-smtpd,
# qmail-pop3d, ...) that services.sh and make try install, each with a log/
# service. It signals supervise through svc(8);
# it never starts svscan.
home="@QMAILHOME@"
PATH="$home/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
export PATH

usage() {
  cat <<USAGE
usage: qmailctl [ -d servicedir ] [ -r rulesdir ] command
  start    start the services (svc -u, also their loggers)
  stop     stop the services (svc -d); queued mail stays queued
  stat     show the state of each service and of the queue
  pause    pause qmail-send and the listeners (svc -p)
  cont     continue them (svc -c)
  restart  stop the listeners, restart qmail-send, start the listeners
  doqueue  try every queued message now (ALRM to qmail-send, svc -a)
  queue    show the queue (qmail-qstat, qmail-qread)
  reload   reread locals and virtualdomains (HUP to qmail-send, svc -h)
  cdb      rebuild tcp.smtp.cdb (and tcp.pop3.cdb) from the rules with tcprules
  help     this text
servicedir: \$QMAILCTL_SERVICE, else /etc/service, else /service
rulesdir:   \$QMAILCTL_RULES, else /etc
USAGE
}

sdir=${QMAILCTL_SERVICE:-}
rules=${QMAILCTL_RULES:-/etc}
while getopts d:r: opt; do
  case $opt in
    d) sdir=$OPTARG ;;
    r) rules=$OPTARG ;;
    *) usage >&2; exit 100 ;;
  esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || { usage >&2; exit 100; }
cmd=$1
case $cmd in
  start|stop|stat|pause|cont|restart|doqueue|queue|reload|cdb|help) ;;
  *) usage >&2; exit 100 ;;
esac

case $cmd in help|queue|cdb) ;; *)
  if [ -z "$sdir" ]; then
    for d in /etc/service /service; do
      [ -d "$d/qmail-send" ] && { sdir=$d; break; }
    done
  fi
  [ -n "$sdir" ] && [ -d "$sdir" ] || {
    echo "qmailctl: fatal: no service directory with qmail-send; give -d or run services.sh" >&2
    exit 111
  }
  # qmail-send, then every other qmail-* service (qmail-smtpd,
  # qmail-submission, qmail-smtps, qmail-pop3d, ...): the listeners
  services=$sdir/qmail-send
  listeners=
  for d in "$sdir"/qmail-*; do
    [ -f "$d/run" ] && [ "$d" != "$sdir/qmail-send" ] && listeners="$listeners $d"
  done
  services="$services$listeners" ;;
esac

# ctl FLAG DIR... - svc with a message per directory; 1 if one failed
ctl() {
  flag=$1; shift
  rc=0
  for d in "$@"; do
    if ! svok "$d" 2>/dev/null; then
      echo "qmailctl: $d: supervise is not running (is svscan watching ${d%/*}?)" >&2
      rc=1
      continue
    fi
    svc "$flag" "$d" || rc=1
  done
  return $rc
}

logs() { for d in "$@"; do [ -d "$d/log" ] && echo "$d/log"; done; }

send=$sdir/qmail-send
case $cmd in
  start)
    echo "Starting qmail."
    # loggers first, so no service writes into a pipe nobody reads
    ctl -u $(logs $services) && ctl -u $services || exit 111 ;;
  stop)
    echo "Stopping qmail."
    ctl -d $services || exit 111 ;;
  stat)
    rc=0
    for d in $services $(logs $services); do
      svstat "$d" || rc=1
    done
    if [ -d "$home/queue/todo" ]; then qmail-qstat || rc=1; fi
    [ $rc = 0 ] || exit 111 ;;
  pause)
    echo "Pausing qmail-send and the listeners."
    ctl -p $services || exit 111 ;;
  cont)
    echo "Continuing qmail-send and the listeners."
    ctl -c $services || exit 111 ;;
  restart)
    echo "Restarting qmail."
    rc=0
    [ -z "$listeners" ] || ctl -d $listeners || rc=1
    ctl -t "$send" || rc=1
    [ -z "$listeners" ] || ctl -u $listeners || rc=1
    [ $rc = 0 ] || exit 111 ;;
  doqueue)
    echo "Sending ALRM to qmail-send: every queued message is tried now."
    ctl -a "$send" || exit 111 ;;
  reload)
    echo "Sending HUP to qmail-send: locals and virtualdomains are reread."
    ctl -h "$send" || exit 111 ;;
  queue)
    qmail-qstat && qmail-qread || exit 111 ;;
  cdb)
    built=0
    for r in tcp.smtp tcp.pop3; do
      [ -f "$rules/$r" ] || continue
      # under a time limit: ucspi-tcp-ipv6's tcprules never returns on some
      # malformed lines
      timeout 30 tcprules "$rules/$r.cdb" "$rules/$r.tmp" < "$rules/$r" || {
        rm -f "$rules/$r.tmp"
        echo "qmailctl: fatal: tcprules refused $rules/$r; the old cdb stays" >&2
        exit 111
      }
      chmod 644 "$rules/$r.cdb"
      echo "Rebuilt $rules/$r.cdb."
      built=1
    done
    [ $built = 1 ] || { echo "qmailctl: fatal: no $rules/tcp.smtp to build from" >&2; exit 111; } ;;
  help)
    usage ;;
esac
exit 0
