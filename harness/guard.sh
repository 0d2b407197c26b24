#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run a command that appends its own results to RESULTS, and make sure a failure of it is
# a result: if it exits non-zero without having appended a FAIL line (a crash, a kill,
# an interpreter error), record "FAIL SUITE LABEL exited N without a verdict". A stage
# that died must never leave a green summary. Exits with the command's status.
#   harness/guard.sh RESULTS SUITE LABEL CMD [ARG...]
set -u
results=$1 suite=$2 label=$3
shift 3
before=0
[ -f "$results" ] && before=$(wc -c < "$results")
"$@"
rc=$?
if [ "$rc" != 0 ] && ! tail -c +"$((before + 1))" "$results" 2>/dev/null | grep -q '^FAIL '; then
	echo "FAIL $suite $label exited $rc without a verdict" >> "$results"
fi
exit "$rc"
