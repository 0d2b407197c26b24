// SPDX-License-Identifier: GPL-2.0

//! The small fields of the TDX Connect leaves: FUNCTION_ID, the IDE stream info and
//! control values, the SPDM.CONNECT configuration page, and the metadata field IDs and
//! feature bits the host reads while enabling the platform (§3).

use super::super::codec::{Error, Result, Writer};
use super::PAGE_SIZE;

/// FUNCTION_ID (§3): bits 15:0 the RID (`bus << 8 | devfn`), 23:16 the PCI segment, bit 24
/// segment-valid. Linux sets bit 24 only when the segment is nonzero; the OVMM test value
/// for segment 7 with the valid bit is `0x01071A2B`. Also the RCX of the guest TDCALLs
/// (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunctionId {
    /// Requester ID, `bus << 8 | devfn`.
    pub rid: u16,
    /// PCI segment (meaningful only with `segment_valid`).
    pub segment: u8,
    /// Bit 24: the segment field is valid.
    pub segment_valid: bool,
}

impl FunctionId {
    /// Bit 24, segment-valid.
    pub const SEGMENT_VALID: u64 = 1 << 24;

    /// The FUNCTION_ID Linux builds for `segment` and `rid`: segment-valid only when the
    /// segment is nonzero (§3).
    pub const fn linux(segment: u8, rid: u16) -> Self {
        Self {
            rid,
            segment,
            segment_valid: segment != 0,
        }
    }

    /// The register value.
    pub const fn encode(self) -> u64 {
        self.rid as u64 | (self.segment as u64) << 16 | (self.segment_valid as u64) << 24
    }

    /// Decodes a register value; bits 63:25 set are an [`Error::InvalidField`].
    ///
    /// Unconfirmed: the sheet names bits 24:0 only; the rest is taken as reserved zero.
    pub fn decode(v: u64) -> Result<Self> {
        if v >> 25 != 0 {
            return Err(Error::InvalidField {
                field: "tdx.function_id",
                value: v,
            });
        }
        Ok(Self {
            rid: v as u16,
            segment: (v >> 16) as u8,
            segment_valid: v & Self::SEGMENT_VALID != 0,
        })
    }
}

wire_enum! {
    /// The stream type, bit 8 of stream_info (§3).
    pub enum StreamType(u8, "tdx.stream_type") decode from_u8 encode to_u8 {
        /// A link IDE stream.
        Link = 0,
        /// A Selective IDE stream (the only kind V2 creates).
        Selective = 1,
    }
}

/// stream_info, the RCX of TDH.IDE.STREAM.CREATE (§3): bits 7:0 the root port's devfn,
/// bit 8 the [`StreamType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamInfo {
    /// The root port's devfn.
    pub rp_devfn: u8,
    /// Link or selective.
    pub kind: StreamType,
}

impl StreamInfo {
    /// The register value.
    pub const fn encode(self) -> u64 {
        self.rp_devfn as u64 | (self.kind.to_u8() as u64) << 8
    }

    /// Decodes a register value; bits 63:9 set are an [`Error::InvalidField`].
    ///
    /// Unconfirmed: bits above 8 are not described; taken as reserved zero.
    pub fn decode(v: u64) -> Result<Self> {
        if v >> 9 != 0 {
            return Err(Error::InvalidField {
                field: "tdx.stream_info",
                value: v,
            });
        }
        Ok(Self {
            rp_devfn: v as u8,
            kind: StreamType::from_u8(((v >> 8) & 1) as u8)?,
        })
    }
}

/// The Selective IDE Stream Control value of TDH.IDE.STREAM.CREATE (R9), as the PCIe
/// register value. For a selective stream EN, the NPR/PR/CPL aggregation fields, CFG_EN,
/// ALG, DEFAULT and STREAM_ID must all be 0; only PCRC and TC are configurable, and Linux
/// passes 0 (§3).
///
/// Unconfirmed: the sheet gives the field names but not their bit positions, so this
/// module keeps the value whole and checks nothing but its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamControl(pub u32);

impl StreamControl {
    /// What Linux passes: 0 (§3).
    pub const LINUX: Self = Self(0);

    /// Decodes R9; a value above 32 bits is an [`Error::InvalidField`].
    pub fn decode(v: u64) -> Result<Self> {
        u32::try_from(v).map(Self).map_err(|_| Error::InvalidField {
            field: "tdx.stream_control",
            value: v,
        })
    }
}

/// The TDH.SPDM.CONNECT configuration page (§3): packed at offset 0, a `u32` of VMM SPDM
/// capabilities, a `u8` session policy, a `u8` certificate-slot mask, a `u8`
/// raw-bitstream-requested flag; the rest of the 4 KiB page is zero.
///
/// Unconfirmed: V1 dropped some reserved fields from the struct, so the spec's trailing
/// layout is not known (§3); the decoder ignores bytes past offset 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectConfig {
    /// VMM SPDM capabilities (bit 13 heartbeat, bit 14 key update).
    pub caps: u32,
    /// Session policy.
    pub session_policy: u8,
    /// Certificate slots the module may use, one bit per slot.
    pub cert_slot_mask: u8,
    /// Whether the raw bit stream of the certificates is requested.
    pub raw_bitstream: u8,
}

/// Bytes of [`ConnectConfig`] fields.
pub const CONNECT_CONFIG_LEN: usize = 7;

impl ConnectConfig {
    /// Capability bit 13: heartbeat (§3).
    pub const CAP_HEARTBEAT: u32 = 1 << 13;
    /// Capability bit 14: key update (§3).
    pub const CAP_KEY_UPDATE: u32 = 1 << 14;

    /// Linux's default: key update only, every certificate slot, policy 0, no raw
    /// bitstream (§3).
    pub const LINUX: Self = Self {
        caps: Self::CAP_KEY_UPDATE,
        session_policy: 0,
        cert_slot_mask: 0xFF,
        raw_bitstream: 0,
    };

    /// Writes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.caps)?;
        w.u8(self.session_policy)?;
        w.u8(self.cert_slot_mask)?;
        w.u8(self.raw_bitstream)?;
        w.zeros(PAGE_SIZE - CONNECT_CONFIG_LEN)
    }

    /// Decodes the page (at least 7 bytes, at most 4096; the rest is ignored).
    pub fn decode(page: &[u8]) -> Result<Self> {
        if page.len() > PAGE_SIZE {
            return Err(Error::TrailingBytes {
                count: page.len() - PAGE_SIZE,
            });
        }
        let mut r = super::super::codec::Reader::new(page);
        Ok(Self {
            caps: r.u32()?,
            session_policy: r.u8()?,
            cert_slot_mask: r.u8()?,
            raw_bitstream: r.u8()?,
        })
    }
}

/// Metadata field IDs and feature bits (§3 "Metadata fields").
pub mod metadata {
    /// MEMORY_POOL_REQUIRED_PAGES: pages the extension pool needs (12800 = 50 MiB on the
    /// dev module, Yilun in V1 review).
    pub const MEMORY_POOL_REQUIRED_PAGES: u64 = 0x3100_0001_0000_0000;

    /// EXT_REQUIRED as V1 and V2 read it.
    ///
    /// Unconfirmed: the EXT series (2026-05-22) reads [`EXT_REQUIRED_EXT`] instead (§3).
    pub const EXT_REQUIRED: u64 = 0x3100_0001_0000_0001;

    /// EXT_REQUIRED as the EXT series reads it.
    ///
    /// Unconfirmed: contradicts V1/V2's [`EXT_REQUIRED`] (§3).
    pub const EXT_REQUIRED_EXT: u64 = 0x3100_0000_0000_0001;

    /// IDE_MT page count (§3).
    pub const IDE_MT_PAGE_COUNT: u64 = 0x3000_0001_0000_0001;

    /// SPDM_MT page count (§3).
    pub const SPDM_MT_PAGE_COUNT: u64 = 0x3000_0001_0000_0002;

    /// IOMMU_MT page count (§3).
    pub const IOMMU_MT_PAGE_COUNT: u64 = 0x3000_0001_0000_0003;

    /// SPDM maximum dev-info pages (§3).
    pub const SPDM_MAX_DEV_INFO_PAGES: u64 = 0x3000_0001_0000_0007;

    /// TDX_FEATURES0 bit 6: TDX Connect (§3). Also the opt-in bit of TDH.SYS.CONFIG's R9.
    pub const FEATURES0_TDX_CONNECT: u64 = 1 << 6;

    /// TDX_FEATURES0 bit 39: module extensions (§3). Setting it in TDH.SYS.CONFIG's R9
    /// has no effect (§1).
    pub const FEATURES0_EXT: u64 = 1 << 39;

    /// The guest's TDCS_CONFIG_FLAGS field ID (STG; OVMM).
    pub const TDCS_CONFIG_FLAGS: u64 = 0x1110_0003_0000_0016;

    /// TDCS_CONFIG_FLAGS bit 5: TDX Connect enabled for the TD (STG; OVMM).
    pub const CONFIG_FLAGS_TDX_CONNECT: u64 = 1 << 5;

    /// Fields whose values change once a feature is opted in, so they are read after
    /// TDH.SYS.CONFIG (§3, V2 patch 08, EXT review).
    pub const READ_AFTER_CONFIG: [u64; 6] = [
        MEMORY_POOL_REQUIRED_PAGES,
        EXT_REQUIRED,
        IDE_MT_PAGE_COUNT,
        SPDM_MT_PAGE_COUNT,
        IOMMU_MT_PAGE_COUNT,
        SPDM_MAX_DEV_INFO_PAGES,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_id_examples() {
        let f = FunctionId {
            rid: 0x1A2B,
            segment: 7,
            segment_valid: true,
        };
        assert_eq!(f.encode(), 0x0107_1A2B);
        assert_eq!(FunctionId::decode(0x0107_1A2B), Ok(f));
        assert_eq!(FunctionId::linux(0, 0x0100).encode(), 0x0100);
        assert!(FunctionId::decode(1 << 25).is_err());
    }

    #[test]
    fn stream_info() {
        let s = StreamInfo {
            rp_devfn: 0x08,
            kind: StreamType::Selective,
        };
        assert_eq!(s.encode(), 0x108);
        assert_eq!(StreamInfo::decode(0x108), Ok(s));
        assert!(StreamInfo::decode(0x208).is_err());
    }
}
