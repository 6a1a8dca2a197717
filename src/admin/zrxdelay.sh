#!/bin/sh
# zrxdelay - qmailanalog's zrxdelay: recipients by their average delay from the message's birth to successful delivery (zrxdelay(8))
exec @QMAILHOME@/bin/qmail-zreport -m -r rxdelay "$@"
