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
  echo "qmail-zreport: usage: qmail-zreport [ -m ] [ -H ] [ -n top ] [ -r report,... ] [ file ... ]" >&2
  exit 100
}

all="overall ddist failures deferrals successes senders suids recipients rxdelay rhosts servers"
matched=0
html=0
top=20
reports=$all
while getopts mHn:r: opt; do
  case $opt in
    m) matched=1 ;;
    H) html=1 ;;
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

# html - the same numbers as one self-contained page: no script, no
# outside file, SVG bars drawn from the tables beside them
html() {
  overall > "$tmp/overall"
  ddist > "$tmp/ddist"
  first=1; reasons d | list "Failures" > "$tmp/failures"
  first=1; rhosts > "$tmp/rhosts"
  first=1; recipients > "$tmp/recipients"
  # deliveries per hour (UTC) of their end: successes, failures, deferrals
  awk '$1 == "d" && NF >= 10 { h = int($5 / 3600); print h, ($2 == "k"), ($2 == "d"), ($2 == "z") }' "$tmp/m" |
    sort -k1,1n | awk '
    function flush() { if (key != "") print key, k, d, z }
    $1 != key { flush(); key = $1; k = d = z = 0 }
    { k += $2; d += $3; z += $4 }
    END { flush() }' > "$tmp/hours"
  awk -v top="$top" '
  function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); gsub(/"/, "\\&quot;", s); return s }
  # hhmm - "YYYY-MM-DD HH:00" (UTC) for hour h since the epoch, without
  # strftime, which not every awk has (civil date from a day count)
  function hhmm(h,   z, era, doe, yoe, doy, mp, d, m, y) {
    z = int(h / 24) + 719468; era = int(z / 146097); doe = z - era * 146097
    yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
    y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
    mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
    m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
    return sprintf("%04d-%02d-%02d %02d:00", y, m, d, h % 24)
  }
  function bars(id, n, lab, val, title,   i, max, w, y) {
    max = 0; for (i = 1; i <= n; i++) if (val[i] > max) max = val[i]
    printf "<svg id=\"%s-chart\" role=\"img\" aria-label=\"%s\" width=\"640\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n", id, esc(title), n * 22 + 4
    for (i = 1; i <= n; i++) {
      w = max ? int(400 * val[i] / max + 0.5) : 0; y = (i - 1) * 22 + 2
      printf "<text x=\"0\" y=\"%d\" font-size=\"12\">%s</text>", y + 14, esc(substr(lab[i], 1, 28))
      printf "<rect x=\"200\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"#3b7dd8\"/>", y, w
      printf "<text x=\"%d\" y=\"%d\" font-size=\"12\">%d</text>\n", 206 + w, y + 14, val[i]
    }
    print "</svg>"
  }
  BEGIN {
    print "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>qmail delivery report</title>"
    print "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
    print "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td.t{text-align:left}</style></head><body>"
    print "<h1>qmail delivery report</h1>"
  }
  FILENAME ~ /overall$/ && /: / {
    if (!ov++) print "<section id=\"overall\"><h2>Overall statistics</h2><table>"
    k = $0; sub(/: .*/, "", k); v = $0; sub(/^[^:]*: /, "", v)
    printf "<tr><td class=\"t\">%s</td><td>%s</td></tr>\n", esc(k), esc(v)
  }
  FILENAME ~ /hours$/ {
    if (!hr++) print "</table></section>\n<section id=\"hourly\"><h2>Deliveries per hour (UTC)</h2>"
    nh++; hl[nh] = hhmm($1); hv[nh] = $2 + $3 + $4; hrow[nh] = sprintf("<tr><td class=\"t\">%s</td><td>%d</td><td>%d</td><td>%d</td></tr>", hl[nh], $2, $3, $4)
  }
  FILENAME ~ /ddist$/ && NR > 0 && $1 ~ /^[0-9]+$/ {
    if (!dd++) {
      if (!hr) print "</table></section>\n<section id=\"hourly\"><h2>Deliveries per hour (UTC)</h2>"
      bars("hourly", nh, hl, hv, "deliveries per hour")
      print "<table><tr><th>hour</th><th>successes</th><th>failures</th><th>deferrals</th></tr>"
      for (i = 1; i <= nh; i++) print hrow[i]
      print "</table></section>\n<section id=\"delays\"><h2>Delay to success</h2>"
    }
    nd++; l = $0; sub(/^ *[0-9]+ +[0-9.]+% +/, "", l); dl[nd] = l; dv[nd] = $1; dp[nd] = $2
  }
  FILENAME ~ /failures$/ && $1 ~ /^[0-9]+$/ { nf++; fl[nf] = $2; fv[nf] = $1 }
  FILENAME ~ /rhosts$/ && $1 ~ /^[0-9]+$/ { nr++; rl[nr] = $5; rv[nr] = $1; rrow[nr] = sprintf("<tr><td class=\"t\">%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td></tr>", esc($5), $1, $2, $3, $4) }
  FILENAME ~ /recipients$/ && $1 ~ /^[0-9]+$/ { nc++; crow[nc] = sprintf("<tr><td class=\"t\">%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td></tr>", esc($5), $1, $2, $3, $4) }
  END {
    bars("delays", nd, dl, dv, "delay to success")
    print "<table><tr><th>delay</th><th>deliveries</th><th>cumulative</th></tr>"
    for (i = 1; i <= nd; i++) printf "<tr><td class=\"t\">%s</td><td>%d</td><td>%s</td></tr>\n", esc(dl[i]), dv[i], dp[i]
    print "</table></section>\n<section id=\"failures\"><h2>Failures by reason</h2>"
    bars("failures", nf, fl, fv, "failures by reason")
    print "<table><tr><th>count</th><th>reason</th></tr>"
    for (i = 1; i <= nf; i++) printf "<tr><td>%d</td><td class=\"t\">%s</td></tr>\n", fv[i], esc(fl[i])
    print "</table></section>\n<section id=\"destinations\"><h2>Top destinations</h2>"
    bars("destinations", nr, rl, rv, "attempts per remote host")
    print "<table><tr><th>host</th><th>attempts</th><th>successes</th><th>failures</th><th>deferrals</th></tr>"
    for (i = 1; i <= nr; i++) print rrow[i]
    print "</table><h3>Recipients</h3><table><tr><th>recipient</th><th>attempts</th><th>successes</th><th>failures</th><th>deferrals</th></tr>"
    for (i = 1; i <= nc; i++) print crow[i]
    print "</table></section></body></html>"
  }' "$tmp/overall" "$tmp/hours" "$tmp/ddist" "$tmp/failures" "$tmp/rhosts" "$tmp/recipients"
}

if [ $html = 1 ]; then html || exit 111; exit 0; fi

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
