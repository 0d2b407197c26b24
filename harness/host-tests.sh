#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host-side tests: the protocol crate (cargo test, clippy, rustfmt) and the harness's own
# Python. Appends results to $1; clippy, rustfmt and the fuzz smoke are checks.
# Each runner's output goes to a log and its exit status to summary.py, so a test binary
# that crashed or a runner that failed without a parsable verdict is a FAIL.
source "$(dirname "$0")/lib.sh"
set +e
results=${1:?results file}
rec() { echo "$1 $2 $3" >> "$results"; }
sum=$TSM_ROOT/harness/summary.py
# Build products outside the clone, so a new clone on the same machine starts warm.
export CARGO_TARGET_DIR=$TSM_CACHE/host-target

# ingest KIND NAME LOG STATUS: append the results parsed from LOG.
ingest() {
	python3 "$sum" "$1" "$results" --status "$4" --name "$2" < "$3" ||
		rec FAIL check:harness "summary.py could not read $3"
	[ "$4" = 0 ] || log "$1 $2 exited $4 (see $3)"
}

for crate in rust/tsm_proto tools/tsm; do
	dir=$TSM_ROOT/$crate
	name=$(basename "$crate")
	out=$TSM_OUT/cargo-$name.log
	log "cargo test $crate"
	# --no-fail-fast: every test binary runs, also after one failed or crashed.
	(cd "$dir" && cargo test --locked --all-features --no-fail-fast > "$out" 2>&1)
	ingest cargo "$crate" "$out" $?
	if (cd "$dir" && cargo clippy --locked --all-targets --all-features -- -D warnings \
			> "$TSM_OUT/clippy-$name.log" 2>&1); then
		rec PASS check:lint "$name cargo clippy -D warnings"
	else
		rec FAIL check:lint "$name cargo clippy -D warnings # see $TSM_OUT/clippy-$name.log"
		tail -30 "$TSM_OUT/clippy-$name.log"
	fi
	if (cd "$dir" && cargo fmt --check > "$TSM_OUT/fmt-$name.log" 2>&1); then
		rec PASS check:lint "$name cargo fmt --check"
	else
		rec FAIL check:lint "$name cargo fmt --check # see $TSM_OUT/fmt-$name.log"
		head -30 "$TSM_OUT/fmt-$name.log"
	fi
done

log "python harness tests"
out=$TSM_OUT/unittest-harness.log
(cd "$TSM_ROOT/harness" && python3 -m unittest -v > "$out" 2>&1)
ingest unittest harness "$out" $?

# A short fuzz smoke of every parser (the long runs are `make fuzz`). fuzz.sh records
# its own results; one more FAIL if it failed without recording one.
log "fuzz smoke (${TSM_FUZZ_SMOKE:-10}s a target)"
before=$(grep -c '^FAIL check:fuzz' "$results")
bash "$TSM_ROOT/harness/fuzz.sh" "${TSM_FUZZ_SMOKE:-10}" "$results" >/dev/null
st=$?
if [ $st != 0 ] && [ "$(grep -c '^FAIL check:fuzz' "$results")" = "$before" ]; then
	rec FAIL check:fuzz "fuzz.sh exited $st without a result"
fi
