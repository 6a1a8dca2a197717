#!/bin/sh
# zdeferrals - qmailanalog's zdeferrals: deferred deliveries counted by reason (zdeferrals(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r deferrals "$@"
