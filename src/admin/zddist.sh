#!/bin/sh
# zddist - qmailanalog's zddist: the distribution of delays from a message's birth to each successful delivery (zddist(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r ddist "$@"
