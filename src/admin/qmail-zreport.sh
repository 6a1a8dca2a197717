#!/bin/sh
# qmail-zreport - summary reports from qmail-send's log (qmail-zreport(8)).
# Reads the log (or, with -m, qmail-matchup's output) from the files named
# or from stdin, runs it through qmail-matchup into a temporary file, and
# prints the overall statistics, then top lists by reason, sender,
# recipient, recipient host and remote server. Memory stays small whatever
# the log's size: awk keeps only sums, the lists are grouped with sort(1),
# which spills to disk.
PATH="@QMAILHOME@/bin:$PATH"
export PATH
LC_ALL=C
export LC_ALL

usage() {
  echo "qmail-zreport: usage: qmail-zreport [ -m ] [ -n top ] [ -r report,... ] [ file ... ]" >&2
  exit 100
}

all="overall ddist failures deferrals successes senders suids recipients rxdelay rhosts servers"
matched=0
top=20
reports=$all
while getopts mn:r: opt; do
  case $opt in
    m) matched=1 ;;
    n) case $OPTARG in ''|*[!0-9]*) usage ;; esac; top=$OPTARG ;;
    r) reports=$(echo "$OPTARG" | tr , ' ')
       for r in $reports; do
         case " $all " in *" $r "*) ;; *) echo "qmail-zreport: unknown report $r (one of: $all)" >&2; exit 100 ;; esac
       done ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
want() { case " $reports " in *" $1 "*) return 0 ;; esac; return 1; }
# sep - a blank line between reports, none before the first
first=1
sep() { [ $first = 1 ] || echo; first=0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qmail-zreport.XXXXXX") || exit 111
trap 'rm -rf "$tmp"' EXIT
trap 'exit 111' HUP INT TERM

if [ $matched = 1 ]; then
  cat -- "$@" > "$tmp/m" || exit 111
else
  cat -- "$@" > "$tmp/log" || exit 111
  qmail-matchup < "$tmp/log" > "$tmp/m" 5> "$tmp/pending" || exit 111
  rm -f "$tmp/log"
fi

# overall statistics: sums and a delay histogram, nothing per message
overall() {
awk '
function secs(x) { return sprintf("%.6f", x) }
$1 == "m" && NF >= 10 {
  nm++; bytes += $4; nk += $5; nz += $6; nd += $7
  q = $3 - $2; if (q < 0) q = 0; qt += q
  if (q < 1) h[1]++; else if (q < 10) h[2]++; else if (q < 60) h[3]++
  else if (q < 600) h[4]++; else if (q < 3600) h[5]++
  else if (q < 86400) h[6]++; else h[7]++
}
$1 == "d" && NF >= 10 {
  na++
  if ($2 == "k") { dk++; x = $5 - $3; if (x < 0) x = 0; xd += x }
  else if ($2 == "d") dd++
  else dz++
  t = $5 - $4; if (t < 0) t = 0; at += t
  if ($8 ~ /^remote\./) rem++; else loc++
}
END {
  print "Overall statistics"
  print "messages completed: " nm + 0
  print "bytes in completed messages: " bytes + 0
  print "delivery attempts: " na + 0
  print "successes: " dk + 0
  print "failures: " dd + 0
  print "deferrals: " dz + 0
  print "local attempts: " loc + 0
  print "remote attempts: " rem + 0
  print "recipients (success or failure): " dk + dd
  if (nm) {
    print "average message size: " int(bytes / nm + 0.5) " bytes"
    print "average time in queue: " secs(qt / nm) " s"
  }
  if (na) print "average attempt time: " secs(at / na) " s"
  if (dk) print "average delay to success: " secs(xd / dk) " s"
  if (nm) {
    print ""
    print "Time in queue (messages)"
    split("under 1 s,1 s to 10 s,10 s to 1 min,1 min to 10 min,10 min to 1 h,1 h to 1 day,over 1 day", lab, ",")
    for (i = 1; i <= 7; i++) printf "%8d  %s\n", h[i], lab[i]
  }
}' "$tmp/m" || exit 111
}

# list TITLE - print "count key" lines from stdin, most first, top of them
list() {
  sep
  echo "$1"
  sort | uniq -c | sort -k1,1nr -k2 | head -n "$top" |
    awk '{ c = $1; $1 = ""; sub(/^ /, ""); printf "%8d  %s\n", c, $0 }'
}

reasons() {
  awk -v r="$1" '$1 == "d" && $2 == r { print (NF >= 11 ? $11 : "(none)") }' "$tmp/m"
}

# grouped SUMCOLS - input "key n1 n2 ..." sorted by key; output the sums per
# key with the key last, largest first sum first
grouped() {
  sort -k1,1 | awk '
  function flush() { if (have) { s = ""; for (i = 2; i <= nf; i++) s = s sum[i] " "; print s key } }
  $1 != key { flush(); key = $1; have = 1; nf = NF; for (i = 2; i <= NF; i++) sum[i] = 0 }
  { for (i = 2; i <= NF; i++) sum[i] += $i }
  END { flush() }' | sort -k1,1nr -k2,2nr | head -n "$top"
}

# ddist - when successful deliveries happened, counted from the message's
# birth (qmailanalog's zddist)
ddist() {
  sep
  echo "Delay to success (deliveries)"
  awk '$1 == "d" && $2 == "k" && NF >= 10 {
    x = $5 - $3; if (x < 0) x = 0
    if (x < 1) h[1]++; else if (x < 10) h[2]++; else if (x < 60) h[3]++
    else if (x < 600) h[4]++; else if (x < 3600) h[5]++
    else if (x < 86400) h[6]++; else h[7]++
    n++ }
  END {
    split("under 1 s,1 s to 10 s,10 s to 1 min,1 min to 10 min,10 min to 1 h,1 h to 1 day,over 1 day", lab, ",")
    c = 0
    for (i = 1; i <= 7; i++) { c += h[i]; printf "%8d %6.2f%%  %s\n", h[i], n ? 100 * c / n : 0, lab[i] }
  }' "$tmp/m"
}

senders() {
  sep
  echo "Senders (messages, bytes, recipients, sender)"
  awk '$1 == "m" && NF >= 10 { print $8, 1, $4, $5 + $7 }' "$tmp/m" | grouped |
    awk '{ printf "%8d %12d %8d  %s\n", $1, $2, $3, $4 }'
}

suids() {
  sep
  echo "Sender uids (messages, bytes, recipients, uid)"
  awk '$1 == "m" && NF >= 10 { print $10, 1, $4, $5 + $7 }' "$tmp/m" | grouped |
    awk '{ printf "%8d %12d %8d  %s\n", $1, $2, $3, $4 }'
}

recipients() {
  sep
  echo "Recipients (attempts, successes, failures, deferrals, recipient)"
  awk '$1 == "d" && NF >= 10 { print $8, 1, ($2 == "k"), ($2 == "d"), ($2 == "z") }' "$tmp/m" | grouped |
    awk '{ printf "%8d %8d %8d %8d  %s\n", $1, $2, $3, $4, $5 }'
}

# rxdelay - recipients by their average delay from birth to success,
# longest first (qmailanalog's zrxdelay)
rxdelay() {
  sep
  echo "Recipient delays (average seconds to success, successes, recipient)"
  awk '$1 == "d" && $2 == "k" && NF >= 10 { x = $5 - $3; if (x < 0) x = 0; print $8, x, 1 }' "$tmp/m" |
    sort -k1,1 | awk '
    function flush() { if (key != "") printf "%.6f %d %s\n", sum / n, n, key }
    $1 != key { flush(); key = $1; sum = 0; n = 0 }
    { sum += $2; n += $3 }
    END { flush() }' | sort -k1,1nr -k2,2nr | head -n "$top" |
    awk '{ printf "%14.6f %8d  %s\n", $1, $2, $3 }'
}

rhosts() {
  sep
  echo "Remote recipient hosts (attempts, successes, failures, deferrals, host)"
  awk '$1 == "d" && $8 ~ /^remote\./ {
    h = $8; sub(/^.*@/, "", h); if (h == $8) h = "(none)"
    print h, 1, ($2 == "k"), ($2 == "d"), ($2 == "z") }' "$tmp/m" | grouped |
    awk '{ printf "%8d %8d %8d %8d  %s\n", $1, $2, $3, $4, $5 }'
}

servers() {
  sep
  echo "Remote servers reached (attempts, successes, failures, deferrals, address)"
  awk '$1 == "d" && $8 ~ /^remote\./ && NF >= 11 {
    ip = ""
    if (match($11, /Connected_to_[0-9A-Fa-f.:]+/)) ip = substr($11, RSTART + 13, RLENGTH - 13)
    else if (match($11, /^[0-9A-Fa-f.:]+_accepted_message/)) ip = substr($11, 1, RLENGTH - 17)
    else if (match($11, /^[0-9A-Fa-f.:]+_does_not_like_recipient/)) ip = substr($11, 1, RLENGTH - 24)
    sub(/\.$/, "", ip)
    if (ip != "") print ip, 1, ($2 == "k"), ($2 == "d"), ($2 == "z") }' "$tmp/m" | grouped |
    awk '{ printf "%8d %8d %8d %8d  %s\n", $1, $2, $3, $4, $5 }'
}

for r in $reports; do
  case $r in
    overall) sep; overall ;;
    failures) reasons d | list "Failures by reason (count, reason)" ;;
    deferrals) reasons z | list "Deferrals by reason (count, reason)" ;;
    successes) reasons k | list "Successes by reason (count, reason)" ;;
    *) $r ;;
  esac
done

if [ -s "$tmp/pending" ] && [ "$reports" = "$all" ]; then
  echo
  echo "Still in flight at the end of the log (not counted above)"
  awk '/ info msg / { m++ } / starting delivery / { d++ }
    END { print "messages: " m + 0; print "deliveries: " d + 0 }' "$tmp/pending"
fi
exit 0
