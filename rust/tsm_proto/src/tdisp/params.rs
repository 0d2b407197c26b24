// SPDX-License-Identifier: GPL-2.0

//! The structured fields of TDISP messages: LOCK_INTERFACE flags and parameters, MMIO
//! ranges and their attributes, vendor-defined data, the DSM's capabilities, the version
//! list and the TDISP_ERROR payload (PCIe Base 6.x §11.3.4-§11.3.26).

use super::super::codec::{len_field, Error, Reader, Result, Writer};
use super::{ErrorCode, RequestCode};

/// LOCK_INTERFACE_REQUEST FLAGS (Table 11-10): a bit set with reserved bits 15:5
/// rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LockFlags(u16);

impl LockFlags {
    /// Bit 0: no firmware update while CONFIG_LOCKED or RUN.
    pub const NO_FW_UPDATE: Self = Self(1 << 0);
    /// Bit 1: system cache line size is 128 bytes (clear: 64 bytes).
    pub const SYSTEM_CACHE_LINE_SIZE_128: Self = Self(1 << 1);
    /// Bit 2: lock the MSI-X table and PBA.
    pub const LOCK_MSIX: Self = Self(1 << 2);
    /// Bit 3: direct P2P may later be enabled with BIND_P2P_STREAM_REQUEST.
    pub const BIND_P2P: Self = Self(1 << 3);
    /// Bit 4: redirect all ATS-translated requests upstream to the root complex.
    pub const ALL_REQUEST_REDIRECT: Self = Self(1 << 4);
    /// Every defined bit.
    pub const ALL: Self = Self(0x1f);

    /// The empty set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Decodes the flags; reserved bits are an [`Error::InvalidField`].
    pub fn from_bits(v: u16) -> Result<Self> {
        if v & !Self::ALL.0 != 0 {
            return Err(Error::InvalidField {
                field: "tdisp.lock_flags",
                value: u64::from(v),
            });
        }
        Ok(Self(v))
    }

    /// Keeps only the defined bits (for capability masks, whose reserved bits must be
    /// ignored).
    pub const fn from_bits_truncate(v: u16) -> Self {
        Self(v & Self::ALL.0)
    }

    /// The wire value.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// LOCK_INTERFACE_REQUEST parameters (Table 11-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockInterfaceParams {
    /// Lock flags.
    pub flags: LockFlags,
    /// Stream ID of the default IDE stream.
    pub default_stream_id: u8,
    /// Signed (two's complement) offset added to every MMIO address in later
    /// DEVICE_INTERFACE_REPORTs.
    pub mmio_reporting_offset: u64,
    /// Mask applied to P2P target addresses.
    pub bind_p2p_address_mask: u64,
}

wire_bits! {
    /// MMIO range attributes (Table 11-15 "TDI Report Structure", MMIO_RANGE bits 15:0;
    /// bits 15:4 reserved).
    pub struct MmioAttributes(u16) {
        /// Bit 0: the range maps the MSI-X table.
        MSIX_TABLE = 1 << 0;
        /// Bit 1: the range maps the MSI-X PBA.
        MSIX_PBA = 1 << 1;
        /// Bit 2: IS_NON_TEE_MEM.
        IS_NON_TEE_MEM = 1 << 2;
        /// Bit 3: IS_MEM_ATTR_UPDATABLE.
        IS_MEM_ATTR_UPDATABLE = 1 << 3;
    }
}

impl MmioAttributes {
    /// Whether the range maps the MSI-X table.
    pub const fn msix_table(self) -> bool {
        self.0 & Self::MSIX_TABLE != 0
    }

    /// Whether the range maps the MSI-X PBA.
    pub const fn msix_pba(self) -> bool {
        self.0 & Self::MSIX_PBA != 0
    }

    /// Whether the range is non-TEE memory.
    pub const fn is_non_tee_mem(self) -> bool {
        self.0 & Self::IS_NON_TEE_MEM != 0
    }

    /// Whether SET_MMIO_ATTRIBUTE_REQUEST may update the range's attributes.
    pub const fn is_mem_attr_updatable(self) -> bool {
        self.0 & Self::IS_MEM_ATTR_UPDATABLE != 0
    }
}

/// One MMIO_RANGE entry (16 bytes; Table 11-15 and Table 11-24
/// "SET_MMIO_ATTRIBUTE_REQUEST"): first 4K page with the MMIO reporting offset added
/// (8 bytes), number of 4K pages (4 bytes), attributes (bits 15:0) and range ID
/// (bits 31:16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioRange {
    /// FIRST_PAGE as on the wire (see the `report` module for its unit).
    pub first_page: u64,
    /// Number of 4K pages.
    pub number_of_pages: u32,
    /// Range attributes.
    pub attributes: MmioAttributes,
    /// Range ID; values 0-7 are the BAR equivalent indicator (§11.3.11).
    pub range_id: u16,
}

/// Size of an encoded [`MmioRange`].
pub const MMIO_RANGE_LEN: usize = 16;

impl MmioRange {
    /// Reads one 16-byte entry.
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            first_page: r.u64()?,
            number_of_pages: r.u32()?,
            attributes: MmioAttributes::from_bits(r.u16()?),
            range_id: r.u16()?,
        })
    }

    /// Writes one 16-byte entry.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.first_page)?;
        w.u32(self.number_of_pages)?;
        w.u16(self.attributes.bits())?;
        w.u16(self.range_id)
    }
}

/// Registry that assigned a vendor id (Table 11-28/11-29: `00h` PCI-SIG, `01h` CXL);
/// other values are kept as read.
pub type RegistryId = u8;

/// Vendor-defined data: REGISTRY_ID, VENDOR_ID_LEN, VENDOR_ID, then opaque bytes
/// (Table 11-28 "EXTENDED_ERROR_DATA", Table 11-29 "VDM_REQUEST", Table 11-30
/// "VDM_RESPONSE").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorData<'a> {
    /// Registry of the vendor id.
    pub registry_id: RegistryId,
    /// Vendor id bytes (at most 255).
    pub vendor_id: &'a [u8],
    /// Opaque vendor-defined bytes.
    pub data: &'a [u8],
}

impl<'a> VendorData<'a> {
    /// Parses the whole of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let registry_id = r.u8()?;
        let len = r.u8()?;
        let vendor_id = r.bytes(usize::from(len))?;
        Ok(Self {
            registry_id,
            vendor_id,
            data: r.rest(),
        })
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        2usize
            .saturating_add(self.vendor_id.len())
            .saturating_add(self.data.len())
    }

    /// Writes the structure.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        let len = len_field("tdisp.vendor_id_len", self.vendor_id.len())?;
        w.u8(self.registry_id)?;
        w.u8(len)?;
        w.bytes(self.vendor_id)?;
        w.bytes(self.data)
    }
}

/// TDISP_CAPABILITIES payload (Table 11-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsmCapabilities {
    /// DSM capability flags (all bits reserved in 1.0).
    pub dsm_caps: u32,
    /// REQ_MSGS_SUPPORTED: bit `code - 80h` set when request `code` is supported.
    pub req_msgs_supported: [u8; 16],
    /// LOCK_INTERFACE_FLAGS_SUPPORTED, raw (reserved bits kept).
    pub lock_interface_flags_supported: u16,
    /// Number of address bits the device supports (e.g. 52).
    pub dev_addr_width: u8,
    /// Outstanding requests permitted for this TDI.
    pub num_req_this: u8,
    /// Outstanding requests permitted across all TDIs of the DSM.
    pub num_req_all: u8,
}

impl DsmCapabilities {
    /// Whether REQ_MSGS_SUPPORTED announces `code`.
    pub fn supports(&self, code: RequestCode) -> bool {
        let bit = usize::from(code as u8 - 0x80);
        self.req_msgs_supported
            .get(bit / 8)
            .is_some_and(|b| b & (1 << (bit % 8)) != 0)
    }

    /// Sets the REQ_MSGS_SUPPORTED bit of `code`.
    pub fn set_supported(&mut self, code: RequestCode) {
        let bit = usize::from(code as u8 - 0x80);
        if let Some(b) = self.req_msgs_supported.get_mut(bit / 8) {
            *b |= 1 << (bit % 8);
        }
    }

    /// The defined lock flags the device supports.
    pub fn lock_flags_supported(&self) -> LockFlags {
        LockFlags::from_bits_truncate(self.lock_interface_flags_supported)
    }
}

/// The version list of TDISP_VERSION (Table 11-7), at least one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionList<'a>(&'a [u8]);

impl<'a> VersionList<'a> {
    /// Wraps a list of version bytes; it must hold 1 to 255 entries.
    pub fn new(entries: &'a [u8]) -> Result<Self> {
        if entries.is_empty() || entries.len() > 255 {
            return Err(Error::InvalidField {
                field: "tdisp.version_num_count",
                value: entries.len() as u64,
            });
        }
        Ok(Self(entries))
    }

    /// The version entries.
    pub fn entries(&self) -> &'a [u8] {
        self.0
    }

    /// Whether `version` is listed.
    pub fn contains(&self, version: u8) -> bool {
        self.0.contains(&version)
    }

    /// The highest listed version with major version 1, if any.
    pub fn highest_v1(&self) -> Option<u8> {
        self.0.iter().copied().filter(|v| v >> 4 == 1).max()
    }
}

/// TDISP_ERROR payload (Table 11-26, Table 11-27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdispError<'a> {
    /// ERROR_CODE.
    pub code: ErrorCode,
    /// ERROR_DATA (the request code for UNSUPPORTED_REQUEST, the extended data length
    /// for VENDOR_SPECIFIC_ERROR, reserved otherwise).
    pub error_data: u32,
    /// EXTENDED_ERROR_DATA: only VENDOR_SPECIFIC_ERROR carries any.
    pub extended: Option<VendorData<'a>>,
}
