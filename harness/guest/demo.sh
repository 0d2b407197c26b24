#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo the README's `make` runs in the arm64 guest: the whole TEE-IO lifecycle of a
# VMM on the emulated platform (tools/testing/selftests/tsm/tsm_demo.c), with the TDISP
# state tsm-dsm reports after each step.
echo "# $(uname -sr) on $(uname -m)"
echo "# test devices: $(tr ' ' '\n' < /proc/cmdline | sed -n 's/^tsm.devices=//p' | tr ',' ' ')"
# tsm.backend=cca (make TSM_BACKEND=cca): the Arm CCA host backend and the RMM model
if grep -qw tsm.backend=cca /proc/cmdline; then
	echo "# platform TSM: Arm CCA host backend (arm_cca_host.ko rmm_model=1, tsm-rmm)"
	exec /tsm/bin/tsm_demo --cca
fi
exec /tsm/bin/tsm_demo
