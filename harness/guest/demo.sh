#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo the README's `make` runs in the arm64 guest: the whole TEE-IO lifecycle of a
# VMM on the emulated platform (tools/testing/selftests/tsm/tsm_demo.c), with the TDISP
# state tsm-dsm reports after each step.
echo "# $(uname -sr) on $(uname -m)"
echo "# test devices: $(tr ' ' '\n' < /proc/cmdline | sed -n 's/^tsm.devices=//p' | tr ',' ' ')"
exec /tsm/bin/tsm_demo
