#!/bin/sh
# mailsubj subject recip ... - send stdin with a Subject and a To field
if [ $# -lt 2 ]; then
  echo "mailsubj: usage: mailsubj subject recip ..." >&2
  exit 100
fi
subject=$(printf '%s' "$1" | tr '\r\n' '  ')
shift
rcpts=$(printf '%s ' "$@" | tr '\r\n' '  ')
{
  printf 'Subject: %s\n' "$subject"
  printf 'To: %s\n' "$rcpts"
  printf '\n'
  cat
} | @QMAILHOME@/bin/qmail-inject
