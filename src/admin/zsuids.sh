#!/bin/sh
# zsuids - qmailanalog's zsuids: messages (zsuids(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r suids "$@"
