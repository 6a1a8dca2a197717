#!/bin/sh
# zsuccesses - qmailanalog's zsuccesses: successful deliveries counted by the text of their report (zsuccesses(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r successes "$@"
