#!/bin/sh
# matchup - qmailanalog's matchup: qmail-matchup(8) under its old name
exec @QMAILHOME@/bin/qmail-matchup "$@"
