/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The interface between the two halves of vfio_pci_tsm.ko: the Rust crate
 * (tsm_main.rs, the module entry and the config-write filter) and the C glue
 * to vfio_pci_core (vfio_pci_tsm_core.c).
 */
#ifndef __VFIO_PCI_TSM_H
#define __VFIO_PCI_TSM_H

#include <linux/types.h>

/* C, called by the Rust module entry and exit */
int vfio_pci_tsm_driver_register(void);
void vfio_pci_tsm_driver_unregister(void);

/*
 * Rust: whether writing @len (1..4) bytes @new over @old at config offset @pos
 * would take a bound TDI out of its TDISP state (clear MSE/BME, FLR through
 * the PCIe capability at @pcie_cap or the AF control byte at @af_ctrl, leave
 * D0 through the PM capability at @pm_cap; 0 = absent). Malformed input is
 * refused.
 */
bool vfio_pci_tsm_write_refused(u16 pcie_cap, u16 pm_cap, u16 af_ctrl,
				u16 pos, const u8 *old, const u8 *new,
				size_t len);

#endif /* __VFIO_PCI_TSM_H */
