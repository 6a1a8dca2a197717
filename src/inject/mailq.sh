#!/bin/sh
# mailq - list the queue, as sendmail -bp does (sendmail(8))
exec @QMAILHOME@/bin/sendmail -bp "$@"
