#!/bin/sh
# datemail - sendmail, with a Date field in local time put in front
exec @QMAILHOME@/bin/predate @QMAILHOME@/bin/sendmail ${1+"$@"}
