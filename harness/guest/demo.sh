#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo the README's `make` runs in the arm64 guest. Today it shows the platform the
# bind/unbind lifecycle will run on; it grows with the vfio/iommufd TSM work.
step() { echo; echo "== $*"; }

step "kernel"
echo "$(uname -sr) on $(uname -m)"
dmesg | grep -o 'Table Upgrade: override \[IORT[^]]*\]' | sed 's/^/ACPI: /'

step "test device"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/class")" = 0x010802 ] || continue
	bdf=$(basename "$d")
	echo "$bdf: vendor $(cat "$d/vendor") device $(cat "$d/device") (NVMe)"
	[ -e "$d/tsm" ] && echo "  PCI/TSM sysfs: $(ls "$d/tsm" | tr '\n' ' ')"
done

step "module"
grep -h 'vfio_pci_tsm' /proc/modules || echo "vfio_pci_tsm: loaded and unloaded cleanly by init"

step "platform facts (kselftest 'platform')"
/tsm/selftests/platform 2>&1 | grep -E '^(ok|not ok)|^# (Totals|PASSED|FAILED)'
