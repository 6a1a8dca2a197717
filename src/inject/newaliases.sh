#!/bin/sh
# newaliases - say that qmail has no aliases database to rebuild (sendmail(8))
exec @QMAILHOME@/bin/sendmail -bi
