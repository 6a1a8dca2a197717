#!/bin/sh
# zsenders - qmailanalog's zsenders: messages (zsenders(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r senders "$@"
