// SPDX-License-Identifier: GPL-2.0

//! Validation of a TDI's interface report against the function's BARs and MSI-X
//! layout, as BIND and GUEST_REQ need it.

use tsm_proto::report::{self, InterfaceReport, ValidationParams};
use tsm_proto::tdisp::LockFlags;

use super::{FwConfig, FwError, Tdi};

pub(super) fn validate_report(bytes: &[u8], t: &Tdi, cfg: &FwConfig) -> Result<(), FwError> {
    let r = InterfaceReport::parse(bytes)?;
    let params = ValidationParams {
        bars: &t.params.bars,
        mmio_reporting_offset: t.lock.mmio_reporting_offset,
        unit: cfg.first_page_unit,
        msix: t.params.msix,
        msix_locked: t.lock.flags.contains(LockFlags::LOCK_MSIX),
    };
    let n = report::validate(&r, &params)?.count();
    if n != r.range_count() {
        return Err(FwError::Protocol("report ranges do not all map"));
    }
    Ok(())
}
