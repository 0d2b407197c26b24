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
 * Rust: whether a config write of the user's @user at offset @pos over the
 * device's @old, of which vfio writes @hw to the device, would take a bound
 * TDI out of its TDISP state: judged on @hw (clearing MSE/BME, a change of
 * locked configuration) and, in the capabilities, on @user for what vfio does
 * on virtualized bits (FLR through the PCIe capability at @pcie_cap or the AF
 * control byte at @af_ctrl, leaving D0 through the PM capability at @pm_cap;
 * 0 = absent). Each is @len (1..4) bytes. Malformed input is refused.
 */
bool vfio_pci_tsm_write_refused(u16 pcie_cap, u16 pm_cap, u16 af_ctrl,
				u16 pos, const u8 *old, const u8 *hw,
				const u8 *user, size_t len);

#endif /* __VFIO_PCI_TSM_H */
