// SPDX-License-Identifier: GPL-2.0

//! Detecting device assignment: RMI_FEATURES register 2 and the RMI_VERSION outputs.
//!
//! Linux registers its CCA host driver only if RMI_VERSION(2.0) succeeds and probes
//! only if [`DaFeatures::da`] is set; a Realm that gets devices must be created with
//! [`REALM_FLAGS0_DA`] (else VDEV_CREATE answers ERROR_REALM).

use super::super::codec::Result;
use super::fid::Revision;
use super::result::{Outcome, Status};

/// RMI_FEATURES register index of the device-assignment features.
pub const FEATURES_DA_INDEX: u64 = 2;

/// Realm parameters `flags0` bit 3: the Realm may have devices assigned.
pub const REALM_FLAGS0_DA: u64 = 1 << 3;

/// RmiFeatureRegister2.
///
/// Bits: 0 DA, 1 DA_COH, 2 VSMMU, 3 ATS, 7:4 max VDEVs order (TF-RMM `MAX_VDEVS_ORDER`,
/// Linux `PDEV_MAX_VDEVS_ORDER`), 8 VDEV_KROU, 9 NON_TEE_STREAM, 14:10 the Realm's max
/// VDEVs order. Unconfirmed: bits 14:10 are in Linux's 2.0-bet3 header only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DaFeatures {
    /// Device assignment is implemented and enabled.
    pub da: bool,
    /// Coherent device assignment.
    pub da_coh: bool,
    /// Virtual SMMUs.
    pub vsmmu: bool,
    /// ATS.
    pub ats: bool,
    /// Order of the most VDEVs per PDEV (4 bits).
    pub max_vdevs_order: u8,
    /// VDEV unlock goes through stream key refresh and purge.
    pub vdev_krou: bool,
    /// Non-TEE streams.
    pub non_tee_stream: bool,
    /// Order of the most VDEVs per Realm (5 bits).
    pub realm_max_vdevs_order: u8,
}

impl DaFeatures {
    /// Decodes the register; undefined bits are ignored.
    pub fn decode(v: u64) -> Self {
        let bit = |n: u32| v >> n & 1 != 0;
        Self {
            da: bit(0),
            da_coh: bit(1),
            vsmmu: bit(2),
            ats: bit(3),
            max_vdevs_order: (v >> 4 & 0xF) as u8,
            vdev_krou: bit(8),
            non_tee_stream: bit(9),
            realm_max_vdevs_order: (v >> 10 & 0x1F) as u8,
        }
    }

    /// Encodes the register (orders are masked to their widths).
    pub const fn encode(self) -> u64 {
        self.da as u64
            | (self.da_coh as u64) << 1
            | (self.vsmmu as u64) << 2
            | (self.ats as u64) << 3
            | ((self.max_vdevs_order & 0xF) as u64) << 4
            | (self.vdev_krou as u64) << 8
            | (self.non_tee_stream as u64) << 9
            | ((self.realm_max_vdevs_order & 0x1F) as u64) << 10
    }
}

/// What RMI_VERSION answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionOutput {
    /// Whether the requested revision is supported (SUCCESS; ERROR_INPUT otherwise).
    pub supported: bool,
    /// X1: the lower implemented revision (the highest, when not supported).
    pub lower: Revision,
    /// X2: the higher implemented revision.
    pub higher: Revision,
}

impl VersionOutput {
    /// Decodes X0..X2. A status other than SUCCESS or ERROR_INPUT is an
    /// [`super::super::codec::Error::UnexpectedMessage`]; SMCCC NOT_SUPPORTED too (no
    /// RMM).
    pub fn decode(x0: u64, x1: u64, x2: u64) -> Result<Self> {
        let supported = match Outcome::decode(x0)?.status() {
            Some(Status::Success) => true,
            Some(Status::ErrorInput) => false,
            _ => {
                return Err(super::super::codec::Error::UnexpectedMessage {
                    what: "RMI_VERSION status",
                })
            }
        };
        Ok(Self {
            supported,
            lower: Revision::from_reg(x1)?,
            higher: Revision::from_reg(x2)?,
        })
    }
}
