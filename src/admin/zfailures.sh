#!/bin/sh
# zfailures - qmailanalog's zfailures: failed deliveries counted by reason (zfailures(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r failures "$@"
