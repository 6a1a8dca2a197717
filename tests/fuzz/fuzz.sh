#!/bin/sh
# fuzz.sh run BUILD SECONDS - fuzz each target with afl-fuzz for SECONDS,
#   then print a table of execs, time, crashes and hangs per target
#   (exit 1 when any target crashed or hung).
# fuzz.sh replay BUILD - run each target's committed corpus once through
#   BUILD's harnesses and programs (the CI smoke; BUILD is the sanitize
#   build, so a sanitizer report fails too, see tests/sanitize). Inputs in
#   known/TARGET/ are failures found and not fixed yet: replayed and listed,
#   never fatal.
# FUZZTARGETS="t1 t2" picks some targets (default: all).
# BUILD holds bin/ (programs with the compiled-in home BUILD/home, or
# QMAILHOME) and fuzz/ (the harnesses). The program targets run the real
# program on stdin, in the environment tcpserver or qmail-popup gives it.
set -e
here=$(cd "$(dirname "$0")" && pwd)
mode=$1 build=$2 secs=${3:-60}
[ -d "$build/bin" ] || { echo "fuzz: $build/bin: no build" >&2; exit 111; }
build=$(cd "$build" && pwd)
home=${QMAILHOME:-$build/home}
LIBTARGETS="rfc822 dotqmail netstring dns remote cdb assign pop3"
PROGTARGETS="smtpd inject popup pop3d"
if [ -n "$FUZZTARGETS" ]; then   # a subset: FUZZTARGETS="rfc822 smtpd"
  l= p=
  for t in $FUZZTARGETS; do
    case " $PROGTARGETS " in *" $t "*) p="$p $t" ;; *) l="$l $t" ;; esac
  done
  LIBTARGETS=$l PROGTARGETS=$p
fi

# the programs' fixtures: control files (only where missing), a queue
# stand-in that reads the message and the envelope, a read-only Maildir
mkdir -p "$home/control" "$build/fuzz"
for f in me rcpthosts locals; do
  [ -f "$home/control/$f" ] || echo testhost.example > "$home/control/$f"
done
printf '#!/bin/sh\nexec 3<&1\ncat >/dev/null\nexec cat <&3 >/dev/null\n' > "$build/fuzz/qqsink"
chmod 755 "$build/fuzz/qqsink"
md=$build/fuzz/Maildir
rm -rf "$md" && mkdir -p "$md/tmp" "$md/new" "$md/cur"
printf 'Subject: one\n\nfirst\n.dot\n' > "$md/new/1700000000.1.fuzz"
printf 'Subject: two\n\nsecond\n' > "$md/cur/1700000001.2.fuzz:2,S"
chmod -R a+rX,go-w "$md"   # qmail-pop3d runs as nobody: it can read, never delete

# prog TARGET - the command line of a program target
prog() {
  case $1 in
    smtpd) echo "$build/bin/qmail-smtpd" ;;
    inject) echo "$build/bin/qmail-inject -n" ;;
    popup) echo "$build/bin/qmail-popup testhost.example /bin/true" ;;   # /bin/false: 2 s delay per PASS
    pop3d) echo "$build/bin/qmail-pop3d $md" ;;
  esac
}
user() { [ "$1" = pop3d ] && echo nobody || echo root; }
export TCPLOCALIP=127.0.0.1 TCPREMOTEIP=127.0.0.1 TCPLOCALPORT=25 TCPLOCALHOST=testhost.example \
  TCPREMOTEHOST=client.example QMAILQUEUE="$build/fuzz/qqsink" QMAILUSER=fuzz \
  QMAILHOST=testhost.example POP3_TIMEOUT=5

replay() {
  bad=0
  for t in $LIBTARGETS; do
    if timeout 120 "$build/fuzz/$t" "$here/corpus/$t"/*; then
      echo "fuzz: replay $t: $(ls "$here/corpus/$t" | wc -l) inputs ok"
    else
      echo "fuzz: replay $t: FAILED"; bad=1
    fi
  done
  for t in $PROGTARGETS; do
    n=0
    for f in "$here/corpus/$t"/*; do
      rc=0
      timeout 20 runuser -u "$(user $t)" -- $(prog $t) < "$f" > /dev/null 2>&1 || rc=$?
      if [ $rc -ge 124 ]; then echo "fuzz: replay $t: $f: exit $rc"; bad=1; fi
      n=$((n + 1))
    done
    echo "fuzz: replay $t: $n inputs run"
  done
  for d in "$here/known"/*; do
    [ -d "$d" ] || continue
    t=$(basename "$d")
    for f in "$d"/*; do
      if timeout 60 "$build/fuzz/$t" "$f" > /dev/null 2>&1; then
        echo "fuzz: known $t/$(basename "$f") passes now: move it into corpus/$t"
      else
        echo "fuzz: known $t/$(basename "$f") still fails (expected until it is fixed)"
      fi
    done
  done
  return $bad
}

run() {
  command -v afl-fuzz > /dev/null || { echo "fuzz: afl-fuzz missing (Debian afl++)" >&2; exit 111; }
  out=$build/fuzz/out
  mkdir -p "$out" && chmod 755 "$out"
  export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
  for t in $LIBTARGETS $PROGTARGETS; do
    cmd="$build/fuzz/$t"
    case " $PROGTARGETS " in *" $t "*) cmd=$(prog $t) ;; esac
    u=$(user $t)
    rm -rf "$out/$t" && mkdir -p "$out/$t" && chown "$u" "$out/$t"
    echo "fuzz: $t for ${secs}s"
    runuser -u "$u" -- env PATH="$PATH" afl-fuzz -i "$here/corpus/$t" -o "$out/$t" -V "$secs" \
      -t 2000 -m none -- $cmd > "$out/$t.log" 2>&1 || echo "fuzz: afl-fuzz $t failed, see $out/$t.log"
  done
  bad=0
  echo "| target | execs | seconds | execs/s | corpus | crashes | hangs |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for t in $LIBTARGETS $PROGTARGETS; do
    s=$out/$t/default/fuzzer_stats
    [ -f "$s" ] || { echo "| $t | - | - | - | - | - | - |"; bad=1; continue; }
    v() { sed -n "s/^$1 *: *//p" "$s"; }
    e=$(v execs_done) r=$(v run_time) c=$(v saved_crashes) h=$(v saved_hangs)
    echo "| $t | $e | $r | $((e / (r > 0 ? r : 1))) | $(v corpus_count) | $c | $h |"
    [ "$c" = 0 ] && [ "$h" = 0 ] || bad=1
  done
  [ $bad = 0 ] || echo "fuzz: crashes or hangs: see $out/TARGET/default/crashes and hangs"
  return $bad
}

case $mode in
  run) run ;;
  replay) replay ;;
  *) echo "usage: fuzz.sh run|replay BUILD [SECONDS]" >&2; exit 100 ;;
esac
