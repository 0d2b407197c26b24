#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every cargo-fuzz target of the protocol crate for a time budget each.
#   harness/fuzz.sh SECONDS [RESULTS]   (make check: a short smoke; make fuzz: long runs)
# Only stable Rust exists here: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
# Each target's execs and verdict are printed; a crash or leak fails the target. Results
# are checks ("PASS check:fuzz <target> ..."); a failed install or build, or no target
# listed, is a FAIL too, and the exit status is 1 whenever a FAIL was recorded.
source "$(dirname "$0")/lib.sh"
set +e
secs=${1:?seconds}
results=${2:-/dev/null}
dir=$TSM_ROOT/rust/tsm_proto
fail() { echo "FAIL check:fuzz $*" | tee -a "$results"; exit 1; }
if ! command -v cargo-fuzz >/dev/null; then
	cargo install -q cargo-fuzz --locked || fail "cargo install cargo-fuzz failed"
fi
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$TSM_CACHE/fuzz-target
if ! (cd "$dir" && cargo fuzz build -O >"$TSM_OUT/fuzz-build.log" 2>&1); then
	tail -20 "$TSM_OUT/fuzz-build.log"
	fail "build # see $TSM_OUT/fuzz-build.log"
fi
targets=$(cd "$dir" && cargo fuzz list) || fail "cargo fuzz list failed"
[ -n "$targets" ] || fail "no fuzz targets listed"
rc=0
for t in $targets; do
	corpus=$TSM_CACHE/fuzz-corpus/$t
	mkdir -p "$corpus"
	log=$TSM_OUT/fuzz-$t.log
	(cd "$dir" && cargo fuzz run -O "$t" "$corpus" -- -max_total_time="$secs" \
		-print_final_stats=1 >"$log" 2>&1)
	st=$?
	execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
	if [ $st = 0 ] && [ "${execs:-0}" != 0 ]; then
		echo "PASS check:fuzz $t ${secs}s $execs execs" | tee -a "$results"
	elif [ $st = 0 ]; then
		echo "FAIL check:fuzz $t ran no input # see $log" | tee -a "$results"
		rc=1
	else
		echo "FAIL check:fuzz $t crashed after ${execs:-?} execs # see $log" | tee -a "$results"
		grep -m5 -E 'panicked|ERROR|SUMMARY' "$log"
		rc=1
	fi
done
exit $rc
