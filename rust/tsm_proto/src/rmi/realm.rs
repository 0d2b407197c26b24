// SPDX-License-Identifier: GPL-2.0

//! The Realm parameters page of RMI_REALM_CREATE, reduced to the one bit device
//! assignment depends on.
//!
//! This is a stand-in, not the Realm parameters layout, and a real RMM would refuse the
//! page it encodes: the project's RMM model does not model Realms (no IPA width
//! `s2sz`, no RTTs, no VMID, no hash algorithm, no RPV, no measurements), and a host
//! that creates a Realm in the model only so that it can bind devices needs nothing
//! but `flags0` at offset 0x0, whose bit 3 (DA) says whether the Realm may have VDEVs
//! (without it VDEV_CREATE answers ERROR_REALM; TF-RMM `vdev.c`, as the fact sheet
//! gives it in §1). [`RealmParams::decode`] reads that bit and ignores every other bit
//! of `flags0` and every other byte of the page; [`RealmParams::encode`] writes
//! `flags0` and zeros.
//!
//! Unconfirmed: the fact sheet names `flags0` and its bit 3 but gives neither the
//! offset of `flags0` nor the rest of the page; offset 0x0 is where the RMM 1.0 layout
//! (TF-RMM `smc-rmi.h`) has the Realm flags.

use super::super::codec::{Result, Writer};
use super::{Fields, Layout, GRANULE_SIZE};

/// Offset of `flags0` in the page.
const FLAGS0: usize = 0x0;

/// Bytes of the fields decoded (`flags0`).
const REALM_EXTENT: usize = 0x8;

/// The parameters page of RMI_REALM_CREATE, as far as it is modelled: `flags0` bit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RealmParams {
    /// `flags0` bit 3: the Realm is created with device assignment.
    pub da: bool,
}

impl RealmParams {
    /// `flags0` bit 3: device assignment.
    pub const FLAGS0_DA: u64 = 1 << 3;

    /// Decodes the page (at least 8 bytes, at most 4096): only `flags0.DA`; the other
    /// bits of `flags0` and the rest of the page are ignored.
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, REALM_EXTENT, GRANULE_SIZE)?;
        Ok(Self {
            da: f.u64(FLAGS0)? & Self::FLAGS0_DA != 0,
        })
    }

    /// Encodes the whole 4096-byte page: `flags0` with only DA possibly set, every other
    /// byte zero.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(FLAGS0, if self.da { Self::FLAGS0_DA } else { 0 })?;
        l.finish(GRANULE_SIZE)
    }
}
