#!/bin/sh
# zoverall - qmailanalog's zoverall: overall statistics and the time messages spent in the queue (zoverall(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r overall "$@"
