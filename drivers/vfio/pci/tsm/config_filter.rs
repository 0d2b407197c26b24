// SPDX-License-Identifier: GPL-2.0

//! Classification of config-space writes that would break a bound TDI.
//!
//! A TDISP device interface in CONFIG_LOCKED or RUN moves to ERROR when the host clears
//! Memory Space Enable or Bus Master Enable in its command register (PCIe Base 6.x
//! §11.2.1). The filter compares the value the device holds with the value that would be
//! written, so the decision is made on what actually reaches the device, not on a user
//! buffer that could change after the check.

use kernel::bindings;

/// Command register bits whose clearing drops a locked TDI into ERROR.
// The constants are small `#define`s that bindgen emits as `u32`; they fit in `u16`.
const LOCKED_COMMAND_BITS: u16 =
    (bindings::PCI_COMMAND_MEMORY | bindings::PCI_COMMAND_MASTER) as u16;

/// Returns whether writing `new` over `old` in PCI_COMMAND clears MSE or BME.
pub(crate) fn command_write_breaks_tdi(old: u16, new: u16) -> bool {
    old & LOCKED_COMMAND_BITS & !new != 0
}

#[kunit_tests(vfio_pci_tsm_config_filter)]
mod tests {
    use super::*;

    const MSE: u16 = bindings::PCI_COMMAND_MEMORY as u16;
    const BME: u16 = bindings::PCI_COMMAND_MASTER as u16;
    const INTX_DISABLE: u16 = bindings::PCI_COMMAND_INTX_DISABLE as u16;

    #[test]
    fn clearing_mse_or_bme_breaks_the_tdi() {
        assert!(command_write_breaks_tdi(MSE | BME, BME));
        assert!(command_write_breaks_tdi(MSE | BME, MSE));
        assert!(command_write_breaks_tdi(MSE | BME, 0));
    }

    #[test]
    fn writes_that_keep_mse_and_bme_are_harmless() {
        assert!(!command_write_breaks_tdi(MSE | BME, MSE | BME | INTX_DISABLE));
        assert!(!command_write_breaks_tdi(MSE | BME | INTX_DISABLE, MSE | BME));
        // Bits that were already clear cannot be cleared again.
        assert!(!command_write_breaks_tdi(0, 0));
        assert!(!command_write_breaks_tdi(BME, BME));
    }
}
