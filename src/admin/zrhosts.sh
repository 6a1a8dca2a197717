#!/bin/sh
# zrhosts - qmailanalog's zrhosts: attempts (zrhosts(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r rhosts "$@"
