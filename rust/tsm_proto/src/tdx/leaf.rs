// SPDX-License-Identifier: GPL-2.0

//! SEAMCALL leaf numbers, the RAX leaf value, and the register file of one call.
//!
//! The RAX value of a SEAMCALL carries the leaf number in bits 15:0 and the leaf version
//! in bits 23:16 (§1, V2 patch 07). Inputs go in RCX, RDX, R8 and up; after the call RAX
//! is the status and RCX/RDX the outputs (`seamcall_ret`; IDE.STREAM.CREATE uses
//! `seamcall_saved_ret` because its inputs reach R14). Only the leaves V2 publishes are
//! here; the TDI bind leaves have no public number ([`super::provisional`]).

use super::super::codec::{Error, Result};

wire_enum! {
    /// The published TDX Connect host leaves (§1 table, V2; numbers also in `tdx-connect.md`).
    pub enum Leaf(u16, "tdx.leaf") decode from_u16 encode to_u16 {
        /// TDH.SYS.CONFIG (45), issued as version 1 to opt in to TDX Connect (§1, V1 review).
        SysConfig = 45,
        /// TDH.EXT.INIT (60): initialise the module extensions (§1).
        ExtInit = 60,
        /// TDH.EXT.MEM.ADD (61): add pages to the extension memory pool (§1).
        ExtMemAdd = 61,
        /// TDH.IOMMU.SETUP (128): put one VT-d unit under the module (§1).
        IommuSetup = 128,
        /// TDH.IOMMU.CLEAR (129): release one VT-d unit (§1).
        IommuClear = 129,
        /// TDH.SPDM.CREATE (130): create the SPDM object of a device (§1; a plain call).
        SpdmCreate = 130,
        /// TDH.SPDM.DELETE (131): delete the SPDM object and release SPDM_MT (§1).
        SpdmDelete = 131,
        /// TDH.IDE.STREAM.CREATE (132): create a stream; the module programs the root port (§1).
        IdeStreamCreate = 132,
        /// TDH.IDE.STREAM.BLOCK (133): clear the root port's IDE configuration (§1).
        IdeStreamBlock = 133,
        /// TDH.IDE.STREAM.DELETE (134): delete the stream and release IDE_MT (§1).
        IdeStreamDelete = 134,
        /// TDH.IDE.STREAM.KM (135): IDE-KM SETUP/REFRESH/STOP through the DOE relay (§1).
        IdeStreamKm = 135,
        /// TDH.SPDM.CONNECT (142): establish the SPDM session (extension SEAMCALL; §1).
        SpdmConnect = 142,
        /// TDH.SPDM.DISCONNECT (143): end the SPDM session (extension SEAMCALL; §1).
        SpdmDisconnect = 143,
        /// TDH.SPDM.MNG (144): heartbeat, key update, device-info recollection (extension
        /// SEAMCALL; §1).
        SpdmMng = 144,
    }
}

impl Leaf {
    /// The version this module issues the leaf at: 1 for TDH.SYS.CONFIG (its opt-in form,
    /// RAX 0x1002D, §1), 0 for every other leaf.
    ///
    /// Unconfirmed: the sheet gives versions only for TDH.SYS.CONFIG; version 0 for the
    /// others is an assumption (V2 gives no version for them).
    pub const fn version(self) -> u8 {
        match self {
            Self::SysConfig => 1,
            _ => 0,
        }
    }

    /// The RAX value this module issues the leaf with.
    pub const fn rax(self) -> u64 {
        LeafValue {
            leaf: self,
            version: self.version(),
        }
        .encode()
    }

    /// Whether V2 calls the leaf an *extension SEAMCALL* (SPDM.CONNECT, DISCONNECT, MNG):
    /// the module's extension runs it as a request queue of depth 1, so a second
    /// concurrent one gets TDX_OPERAND_BUSY (§4 "Concurrency", V2 patches 27 and 28).
    pub const fn is_extension(self) -> bool {
        matches!(
            self,
            Self::SpdmConnect | Self::SpdmDisconnect | Self::SpdmMng
        )
    }

    /// Whether the leaf runs the DOE relay loop (it may return TDX_SPDM_REQUEST): the
    /// three SPDM extension leaves and IDE.STREAM.KM (§1 table notes).
    pub const fn relays(self) -> bool {
        self.is_extension() || matches!(self, Self::IdeStreamKm)
    }

    /// Whether the leaf is serialized through [`super::ExtSlot`]: the extension leaves
    /// and IDE.STREAM.KM.
    ///
    /// Unconfirmed: whether the depth-1 limit applies to IDE.STREAM.KM is open (§4); V2
    /// does not lock around KM. This module serializes KM too, which costs nothing and
    /// cannot produce OPERAND_BUSY.
    pub const fn needs_slot(self) -> bool {
        self.relays()
    }

    /// Whether TDX_INTERRUPTED_RESUMABLE is an expected answer, to be resumed (§2): the
    /// extension leaves, IOMMU.SETUP/CLEAR, IDE.STREAM.KM, EXT.INIT and EXT.MEM.ADD.
    /// For any other leaf the code is treated as a failure.
    ///
    /// Unconfirmed: the sheet lists where V2 loops; whether other leaves can be
    /// interrupted is not said.
    pub const fn resumable(self) -> bool {
        self.relays()
            || matches!(
                self,
                Self::IommuSetup | Self::IommuClear | Self::ExtInit | Self::ExtMemAdd
            )
    }
}

/// The RAX leaf value: leaf number in bits 15:0, version in bits 23:16 (§1, V2 patch 07).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeafValue {
    /// The leaf.
    pub leaf: Leaf,
    /// The version.
    pub version: u8,
}

impl LeafValue {
    /// The RAX value.
    pub const fn encode(self) -> u64 {
        (self.version as u64) << 16 | self.leaf.to_u16() as u64
    }

    /// Decodes RAX; bits 63:24 set are an [`Error::InvalidField`], an unknown leaf an
    /// [`Error::UnknownCode`].
    ///
    /// Unconfirmed: the sheet names only bits 23:0; 63:24 are taken as reserved zero.
    pub fn decode(rax: u64) -> Result<Self> {
        if rax >> 24 != 0 {
            return Err(Error::InvalidField {
                field: "tdx.leaf_value",
                value: rax,
            });
        }
        Ok(Self {
            leaf: Leaf::from_u16(rax as u16)?,
            version: (rax >> 16) as u8,
        })
    }
}

/// The general-purpose registers of one SEAMCALL, as the host writes them before the
/// call (RAX the leaf value) or reads them after it (RAX the status). Registers a leaf
/// does not use are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Regs {
    /// RAX.
    pub rax: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// R8.
    pub r8: u64,
    /// R9.
    pub r9: u64,
    /// R10.
    pub r10: u64,
    /// R11.
    pub r11: u64,
    /// R12.
    pub r12: u64,
    /// R13.
    pub r13: u64,
    /// R14.
    pub r14: u64,
}

impl Regs {
    /// Registers with RAX set to `leaf`'s value and the inputs from RCX on, in the order
    /// RCX, RDX, R8, R9, R10, R11, R12, R13, R14 (extra values past R14 are ignored; no
    /// leaf has more than nine inputs).
    pub fn with(leaf: Leaf, inputs: &[u64]) -> Self {
        let mut r = Self {
            rax: leaf.rax(),
            ..Self::default()
        };
        let slots = [
            &mut r.rcx, &mut r.rdx, &mut r.r8, &mut r.r9, &mut r.r10, &mut r.r11, &mut r.r12,
            &mut r.r13, &mut r.r14,
        ];
        for (slot, v) in slots.into_iter().zip(inputs) {
            *slot = *v;
        }
        r
    }

    /// The input registers RCX..R14 in order.
    pub const fn inputs(&self) -> [u64; 9] {
        [
            self.rcx, self.rdx, self.r8, self.r9, self.r10, self.r11, self.r12, self.r13, self.r14,
        ]
    }

    /// Whether every input register from position `n` on (RCX is 0) is zero: a decoder
    /// refuses inputs in registers its leaf does not use.
    pub fn unused_zero(&self, n: usize) -> bool {
        self.inputs().iter().skip(n).all(|v| *v == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_values() {
        assert_eq!(Leaf::SysConfig.rax(), 0x1002D);
        assert_eq!(Leaf::SpdmConnect.rax(), 142);
        for l in Leaf::ALL {
            assert_eq!(LeafValue::decode(l.rax()).map(|v| v.leaf), Ok(l));
        }
        assert!(LeafValue::decode(1 << 24 | 130).is_err());
        assert!(LeafValue::decode(136).is_err());
    }

    #[test]
    fn regs_order() {
        let r = Regs::with(Leaf::IdeStreamCreate, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!((r.rcx, r.r8, r.r14), (1, 3, 9));
        assert!(r.unused_zero(9));
        assert!(!r.unused_zero(8));
    }
}
