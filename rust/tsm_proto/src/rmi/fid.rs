// SPDX-License-Identifier: GPL-2.0

//! RMI function IDs per ABI version, and the interface revision.
//!
//! Every RMI call is a fast SMC64 in the Arm standard-service range, so its function ID
//! is `0xC400_0000 | n`. ABI 2.0 moved or added most device-assignment calls and reused
//! two numbers for different calls (`0x17A`, `0x18A`), so a function ID only names a
//! call together with an [`Abi`]. The 2.0 numbers are the ones TF-RMM and Linux's
//! `arm-smccc-rmi.h` agree on; the 1.1-alp12 numbers are TF-RMM's `tf-rmm-v0.8.0`.
//! The exceptions are RMI_REALM_CREATE and RMI_REALM_DESTROY, which the fact sheet does
//! not list: their numbers are RMM 1.0's (TF-RMM `smc-rmi.h`), used in both ABIs.

use super::super::codec::{Error, Result};

/// The fast-SMC64 standard-service prefix of every RMI function ID.
pub const FID_BASE: u32 = 0xC400_0000;

/// The function ID of RMI function number `n`.
pub const fn fid(n: u16) -> u32 {
    FID_BASE | n as u32
}

/// An RMI interface revision: `major << 16 | minor` in a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Revision {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl Revision {
    /// Revision 2.0, the ABI this module implements first (`0x2_0000`).
    pub const V2_0: Self = Self { major: 2, minor: 0 };

    /// The register value.
    pub const fn to_reg(self) -> u64 {
        (self.major as u64) << 16 | self.minor as u64
    }

    /// Decodes a register value; bits 63:32 set are an [`Error::InvalidField`].
    pub const fn from_reg(v: u64) -> Result<Self> {
        if v >> 32 != 0 {
            return Err(Error::InvalidField {
                field: "rmi.revision",
                value: v,
            });
        }
        Ok(Self {
            major: (v >> 16) as u16,
            minor: v as u16,
        })
    }
}

/// The RMI ABI a function ID, page layout or state value is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abi {
    /// RMM 2.0 (TF-RMM HEAD, Linux `arm-smccc-rmi.h` 2.0-bet3).
    V2_0,
    /// RMM 1.1-alp12 (TF-RMM `tf-rmm-v0.8.0`, Linux DA RFC v1).
    Alp12,
}

impl Abi {
    /// Both ABIs.
    pub const ALL: [Self; 2] = [Self::V2_0, Self::Alp12];

    /// The revision that selects this ABI in RMI_VERSION.
    ///
    /// Unconfirmed: 1.1 for alp12 is inferred from the draft's name; the fact sheet does
    /// not give the value alp12 firmware reports.
    pub const fn revision(self) -> Revision {
        match self {
            Self::V2_0 => Revision::V2_0,
            Self::Alp12 => Revision { major: 1, minor: 1 },
        }
    }
}

/// An RMI device-assignment call (and the few general calls the flow needs), across
/// both ABIs. [`Call::fid`] gives its function ID in one ABI, or `None` if that ABI
/// lacks it. Argument registers are listed per call (2.0 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// RMI_VERSION: X1 = requested revision; out X1 lower, X2 higher revision.
    Version,
    /// RMI_FEATURES: X1 = register index; out X1 = value.
    Features,
    /// RMI_GRANULE_RANGE_DELEGATE: X1 base, X2 top (exclusive); out X1 = next PA.
    /// alp12: RMI_GRANULE_DELEGATE, X1 = PA of one granule.
    GranuleDelegate,
    /// RMI_GRANULE_RANGE_UNDELEGATE (alp12: RMI_GRANULE_UNDELEGATE), as above.
    GranuleUndelegate,
    /// RMI_REALM_CREATE: X1 = rd (a delegated granule), X2 = Realm parameters PA (an
    /// NS page, [`super::RealmParams`]). Number 0x158 in both ABIs, from the RMM 1.0
    /// interface as TF-RMM's `smc-rmi.h` defines it.
    ///
    /// Unconfirmed: the fact sheet lists no Realm calls for 2.0; the number is assumed
    /// unchanged from 1.0.
    RealmCreate,
    /// RMI_REALM_DESTROY: X1 = rd. Number 0x159 in both ABIs, from the RMM 1.0
    /// interface as TF-RMM's `smc-rmi.h` defines it.
    ///
    /// Unconfirmed: as [`Call::RealmCreate`], not in the fact sheet for 2.0.
    RealmDestroy,
    /// RMI_PDEV_ABORT: X1 = pdev.
    PdevAbort,
    /// RMI_PDEV_COMMUNICATE: X1 = pdev, X2 = communication page PA.
    PdevCommunicate,
    /// RMI_PDEV_CREATE: X1 = pdev (delegated granule), X2 = parameters PA.
    PdevCreate,
    /// RMI_PDEV_DESTROY: X1 = pdev.
    PdevDestroy,
    /// RMI_PDEV_GET_STATE: X1 = pdev; out X1 = state.
    PdevGetState,
    /// RMI_PDEV_AUX_COUNT (alp12 only): X1 = flags; out X1 = count.
    PdevAuxCount,
    /// RMI_PDEV_IDE_RESET (alp12 only): X1 = pdev.
    PdevIdeReset,
    /// RMI_PDEV_NOTIFY (alp12 only): X1 = pdev, X2 = event (0 = IDE key refresh).
    PdevNotify,
    /// RMI_PDEV_STREAM_KEY_REFRESH (2.0 only): X1 = EP pdev, X2 = RP pdev, X3 = stream.
    PdevStreamKeyRefresh,
    /// RMI_PDEV_SET_PUBKEY: X1 = pdev, X2 = public key parameters PA.
    PdevSetPubkey,
    /// RMI_PDEV_STOP: X1 = pdev.
    PdevStop,
    /// RMI_VDEV_ABORT: X1 = rd, X2 = pdev, X3 = vdev (alp12: X1 = vdev).
    VdevAbort,
    /// RMI_VDEV_COMMUNICATE: X1 = rd, X2 = pdev, X3 = vdev, X4 = communication page
    /// (alp12: X1 = pdev, X2 = vdev, X3 = page).
    VdevCommunicate,
    /// RMI_VDEV_CREATE: X1 = rd, X2 = pdev, X3 = vdev (delegated), X4 = parameters PA.
    VdevCreate,
    /// RMI_VDEV_DESTROY: X1 = rd, X2 = pdev, X3 = vdev.
    VdevDestroy,
    /// RMI_VDEV_GET_STATE: X1 = vdev; out X1 = state.
    VdevGetState,
    /// RMI_VDEV_UNLOCK: X1 = rd, X2 = pdev, X3 = vdev; out X1 = a still-mapped device
    /// granule with ERROR_GRANULE. alp12: RMI_VDEV_STOP, X1 = vdev.
    VdevUnlock,
    /// RMI_VDEV_COMPLETE: X1 = rec, X2 = vdev.
    ///
    /// Unconfirmed: TF-RMM has it in both ABIs; Linux's 2.0-bet3 header lacks it.
    VdevComplete,
    /// RMI_VDEV_AUX_COUNT (alp12 only): X1 = PDEV flags, X2 = VDEV flags.
    VdevAuxCount,
    /// RMI_VDEV_GET_INTERFACE_REPORT (2.0 only): X1 = rd, X2 = pdev, X3 = vdev.
    VdevGetInterfaceReport,
    /// RMI_VDEV_GET_MEASUREMENTS (2.0 only): X1 = rd, X2 = pdev, X3 = vdev, X4 =
    /// measurement parameters PA.
    VdevGetMeasurements,
    /// RMI_VDEV_LOCK (2.0 only): X1 = rd, X2 = pdev, X3 = vdev.
    VdevLock,
    /// RMI_VDEV_START (2.0 only): X1 = rd, X2 = pdev, X3 = vdev.
    VdevStart,
    /// RMI_RTT_DEV_VALIDATE: X1 rd, X2 rec, X3 base, X4 top; out X1 = top.
    /// alp12: RMI_RTT_DEV_MEM_VALIDATE, same number.
    ///
    /// Unconfirmed: TF-RMM's header comment lists pdev and vdev arguments as well; its
    /// code (and the fact sheet) take the four above.
    RttDevValidate,
    /// RMI_RTT_DEV_MAP: X1 rd, X2 vdev, X3 base IPA, X4 top IPA, X5 flags, X6 output
    /// address; out X1 = top. alp12: RMI_DEV_MEM_MAP.
    RttDevMap,
    /// RMI_RTT_DEV_UNMAP: X1 rd, X2 base, X3 top, X4 flags, X5 output address; out X1 =
    /// top, X2 = range, X3 = count. alp12: RMI_DEV_MEM_UNMAP.
    RttDevUnmap,
    /// RMI_OP_CONTINUE (2.0 only): X1 = handle, X2 = flags (bit 0 stop); out X1 =
    /// handle, X2 = donate request.
    OpContinue,
    /// RMI_PDEV_STREAM_CONNECT (2.0 only): X1 = stream parameters PA; out X1 = handle.
    PdevStreamConnect,
    /// RMI_PDEV_STREAM_DISCONNECT (2.0 only): X1 = EP pdev, X2 = RP pdev, X3 = handle.
    PdevStreamDisconnect,
    /// RMI_PDEV_STREAM_COMPLETE (2.0 only): X1 = EP pdev, X2 = RP pdev, X3 = handle.
    PdevStreamComplete,
    /// RMI_PDEV_STREAM_KEY_PURGE (2.0 only): X1 = EP pdev, X2 = RP pdev, X3 = handle.
    /// TF-RMM answers NOT_SUPPORTED.
    PdevStreamKeyPurge,
    /// RMI_OP_MEM_DONATE (2.0 only): X1 = handle, X2 = address list PA (8-byte
    /// aligned), X3 = entries; out X1 = granules consumed, X2 = next donate request.
    OpMemDonate,
    /// RMI_OP_MEM_RECLAIM (2.0 only): X1 = handle, X2 = list PA, X3 = capacity; out X1
    /// = entries written.
    OpMemReclaim,
    /// RMI_OP_CANCEL (2.0 only): X1 = handle.
    OpCancel,
}

impl Call {
    /// Every call.
    pub const ALL: [Self; 40] = [
        Self::Version,
        Self::Features,
        Self::GranuleDelegate,
        Self::GranuleUndelegate,
        Self::RealmCreate,
        Self::RealmDestroy,
        Self::PdevAbort,
        Self::PdevCommunicate,
        Self::PdevCreate,
        Self::PdevDestroy,
        Self::PdevGetState,
        Self::PdevAuxCount,
        Self::PdevIdeReset,
        Self::PdevNotify,
        Self::PdevStreamKeyRefresh,
        Self::PdevSetPubkey,
        Self::PdevStop,
        Self::VdevAbort,
        Self::VdevCommunicate,
        Self::VdevCreate,
        Self::VdevDestroy,
        Self::VdevGetState,
        Self::VdevUnlock,
        Self::VdevComplete,
        Self::VdevAuxCount,
        Self::VdevGetInterfaceReport,
        Self::VdevGetMeasurements,
        Self::VdevLock,
        Self::VdevStart,
        Self::RttDevValidate,
        Self::RttDevMap,
        Self::RttDevUnmap,
        Self::OpContinue,
        Self::PdevStreamConnect,
        Self::PdevStreamDisconnect,
        Self::PdevStreamComplete,
        Self::PdevStreamKeyPurge,
        Self::OpMemDonate,
        Self::OpMemReclaim,
        Self::OpCancel,
    ];

    /// The function number (`fid & 0xFFFF`) in each ABI: `(2.0, alp12)`.
    const fn numbers(self) -> (Option<u16>, Option<u16>) {
        use Call as C;
        match self {
            C::Version => (Some(0x150), Some(0x150)),
            C::Features => (Some(0x165), Some(0x165)),
            C::GranuleDelegate => (Some(0x1F1), Some(0x151)),
            C::GranuleUndelegate => (Some(0x1F2), Some(0x152)),
            C::RealmCreate => (Some(0x158), Some(0x158)),
            C::RealmDestroy => (Some(0x159), Some(0x159)),
            C::PdevAbort => (Some(0x174), Some(0x174)),
            C::PdevCommunicate => (Some(0x175), Some(0x175)),
            C::PdevCreate => (Some(0x176), Some(0x176)),
            C::PdevDestroy => (Some(0x177), Some(0x177)),
            C::PdevGetState => (Some(0x178), Some(0x178)),
            C::PdevAuxCount => (None, Some(0x156)),
            C::PdevIdeReset => (None, Some(0x179)),
            C::PdevNotify => (None, Some(0x17A)),
            C::PdevStreamKeyRefresh => (Some(0x17A), None),
            C::PdevSetPubkey => (Some(0x17B), Some(0x17B)),
            C::PdevStop => (Some(0x17C), Some(0x17C)),
            C::VdevAbort => (Some(0x185), Some(0x185)),
            C::VdevCommunicate => (Some(0x186), Some(0x186)),
            C::VdevCreate => (Some(0x187), Some(0x187)),
            C::VdevDestroy => (Some(0x188), Some(0x188)),
            C::VdevGetState => (Some(0x189), Some(0x189)),
            C::VdevUnlock => (Some(0x18A), Some(0x18A)),
            C::VdevComplete => (Some(0x18E), Some(0x18E)),
            C::VdevAuxCount => (None, Some(0x160)),
            C::VdevGetInterfaceReport => (Some(0x1D0), None),
            C::VdevGetMeasurements => (Some(0x1D1), None),
            C::VdevLock => (Some(0x1D2), None),
            C::VdevStart => (Some(0x1D3), None),
            C::RttDevValidate => (Some(0x163), Some(0x163)),
            C::RttDevMap => (Some(0x1F7), Some(0x172)),
            C::RttDevUnmap => (Some(0x1F8), Some(0x173)),
            C::OpContinue => (Some(0x203), None),
            C::PdevStreamConnect => (Some(0x204), None),
            C::PdevStreamDisconnect => (Some(0x205), None),
            C::PdevStreamComplete => (Some(0x206), None),
            C::PdevStreamKeyPurge => (Some(0x207), None),
            C::OpMemDonate => (Some(0x208), None),
            C::OpMemReclaim => (Some(0x209), None),
            C::OpCancel => (Some(0x20A), None),
        }
    }

    /// The function ID of this call in `abi`, or `None` if `abi` has no such call.
    pub const fn fid(self, abi: Abi) -> Option<u32> {
        let (v2, alp12) = self.numbers();
        let n = match abi {
            Abi::V2_0 => v2,
            Abi::Alp12 => alp12,
        };
        match n {
            Some(n) => Some(fid(n)),
            None => None,
        }
    }

    /// The call that `fid` names in `abi`; any other value is an
    /// [`Error::UnknownCode`] in `rmi.fid`.
    pub fn from_fid(abi: Abi, fid: u32) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.fid(abi) == Some(fid))
            .ok_or(Error::UnknownCode {
                space: "rmi.fid",
                value: u64::from(fid),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fids_are_unique_per_abi_and_round_trip() {
        for abi in Abi::ALL {
            for c in Call::ALL {
                if let Some(f) = c.fid(abi) {
                    assert_eq!(f & 0xFFFF_0000, FID_BASE);
                    assert_eq!(Call::from_fid(abi, f), Ok(c), "{c:?} in {abi:?}");
                }
            }
        }
    }

    #[test]
    fn every_call_listed_once() {
        for (i, c) in Call::ALL.iter().enumerate() {
            assert!(!Call::ALL[..i].contains(c), "{c:?} listed twice");
        }
    }

    #[test]
    fn realm_calls_same_in_both_abis() {
        for abi in Abi::ALL {
            assert_eq!(Call::RealmCreate.fid(abi), Some(0xC400_0158));
            assert_eq!(Call::RealmDestroy.fid(abi), Some(0xC400_0159));
        }
    }

    #[test]
    fn reused_numbers_need_the_abi() {
        assert_eq!(
            Call::from_fid(Abi::V2_0, 0xC400_017A),
            Ok(Call::PdevStreamKeyRefresh)
        );
        assert_eq!(
            Call::from_fid(Abi::Alp12, 0xC400_017A),
            Ok(Call::PdevNotify)
        );
        assert!(Call::from_fid(Abi::Alp12, 0xC400_0203).is_err());
        assert!(Call::from_fid(Abi::V2_0, 0xC400_0156).is_err());
    }

    #[test]
    fn revision_register() {
        assert_eq!(Revision::V2_0.to_reg(), 0x2_0000);
        assert_eq!(Revision::from_reg(0x1_0001).map(|r| r.minor), Ok(1));
        assert!(Revision::from_reg(1 << 32).is_err());
    }
}
