#!/bin/sh
# zrecipients - qmailanalog's zrecipients: attempts (zrecipients(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r recipients "$@"
