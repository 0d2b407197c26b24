// SPDX-License-Identifier: GPL-2.0

//! PCIe TDISP messages (TEE Device Interface Security Protocol).
//!
//! TDISP (PCIe Base 6.x §11.3 "TDISP Message Formats and Processing") moves a TEE device
//! interface (TDI) through CONFIG_UNLOCKED, CONFIG_LOCKED, RUN and ERROR. Its messages
//! are the payload of SPDM `VENDOR_DEFINED_REQUEST`/`VENDOR_DEFINED_RESPONSE` (StandardID
//! PCI-SIG, vendor id `0x0001`) in a secured session; the envelope belongs to the `spdm`
//! module. This module encodes and decodes the vendor-defined payload: the protocol id
//! byte ([`PROTOCOL_ID`] = `0x01`), then the 16-byte TDISP header (Table 11-5 "TDISP
//! Message Format": version, message type, 2 reserved bytes, INTERFACE_ID) and the
//! message-specific fields.
//!
//! Decoding is strict about lengths (trailing bytes are an error) and lenient about
//! reserved fields (ignored on receipt, written as zero), as §11.3.3 requires, except
//! where a reserved bit would change meaning (LOCK_INTERFACE flags, FUNCTION_ID).

use core::fmt;

use super::codec::{Error, Reader, Result, Writer};
use super::state::TdiState;

/// PCI-SIG vendor-defined protocol id of TDISP (PCIe Base 6.x §6.31.3 "Protocol ID").
pub const PROTOCOL_ID: u8 = 0x01;

/// TDISP version 1.0 (`10h`, §11.3.3: major in bits 7:4, minor in bits 3:0).
pub const VERSION_1_0: u8 = 0x10;

/// Size of START_INTERFACE_NONCE (Table 11-11 "LOCK_INTERFACE_RESPONSE").
pub const NONCE_LEN: usize = 32;

/// Size of the TDISP header after the protocol id byte (Table 11-5).
pub const HEADER_LEN: usize = 16;

/// TDISP request codes (Table 11-3 "TDISP Request Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RequestCode {
    /// GET_TDISP_VERSION.
    GetVersion = 0x81,
    /// GET_TDISP_CAPABILITIES.
    GetCapabilities = 0x82,
    /// LOCK_INTERFACE_REQUEST.
    LockInterface = 0x83,
    /// GET_DEVICE_INTERFACE_REPORT.
    GetDeviceInterfaceReport = 0x84,
    /// GET_DEVICE_INTERFACE_STATE.
    GetDeviceInterfaceState = 0x85,
    /// START_INTERFACE_REQUEST.
    StartInterface = 0x86,
    /// STOP_INTERFACE_REQUEST.
    StopInterface = 0x87,
    /// BIND_P2P_STREAM_REQUEST.
    BindP2pStream = 0x88,
    /// UNBIND_P2P_STREAM_REQUEST.
    UnbindP2pStream = 0x89,
    /// SET_MMIO_ATTRIBUTE_REQUEST.
    SetMmioAttribute = 0x8a,
    /// VDM_REQUEST.
    Vdm = 0x8b,
}

impl RequestCode {
    /// Every request code, in code order.
    pub const ALL: [RequestCode; 11] = [
        Self::GetVersion,
        Self::GetCapabilities,
        Self::LockInterface,
        Self::GetDeviceInterfaceReport,
        Self::GetDeviceInterfaceState,
        Self::StartInterface,
        Self::StopInterface,
        Self::BindP2pStream,
        Self::UnbindP2pStream,
        Self::SetMmioAttribute,
        Self::Vdm,
    ];

    /// Maps a message type byte; unknown codes are an [`Error::UnknownCode`].
    pub fn from_u8(v: u8) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| *c as u8 == v)
            .ok_or(Error::UnknownCode {
                space: "tdisp.request_code",
                value: u64::from(v),
            })
    }

    /// The response code that answers this request on success (Table 11-4).
    pub fn expected_response(self) -> ResponseCode {
        match self {
            Self::GetVersion => ResponseCode::Version,
            Self::GetCapabilities => ResponseCode::Capabilities,
            Self::LockInterface => ResponseCode::LockInterface,
            Self::GetDeviceInterfaceReport => ResponseCode::DeviceInterfaceReport,
            Self::GetDeviceInterfaceState => ResponseCode::DeviceInterfaceState,
            Self::StartInterface => ResponseCode::StartInterface,
            Self::StopInterface => ResponseCode::StopInterface,
            Self::BindP2pStream => ResponseCode::BindP2pStream,
            Self::UnbindP2pStream => ResponseCode::UnbindP2pStream,
            Self::SetMmioAttribute => ResponseCode::SetMmioAttribute,
            Self::Vdm => ResponseCode::Vdm,
        }
    }
}

/// TDISP response codes (Table 11-4 "TDISP Response Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResponseCode {
    /// TDISP_VERSION.
    Version = 0x01,
    /// TDISP_CAPABILITIES.
    Capabilities = 0x02,
    /// LOCK_INTERFACE_RESPONSE.
    LockInterface = 0x03,
    /// DEVICE_INTERFACE_REPORT.
    DeviceInterfaceReport = 0x04,
    /// DEVICE_INTERFACE_STATE.
    DeviceInterfaceState = 0x05,
    /// START_INTERFACE_RESPONSE.
    StartInterface = 0x06,
    /// STOP_INTERFACE_RESPONSE.
    StopInterface = 0x07,
    /// BIND_P2P_STREAM_RESPONSE.
    BindP2pStream = 0x08,
    /// UNBIND_P2P_STREAM_RESPONSE.
    UnbindP2pStream = 0x09,
    /// SET_MMIO_ATTRIBUTE_RESPONSE.
    SetMmioAttribute = 0x0a,
    /// VDM_RESPONSE.
    Vdm = 0x0b,
    /// TDISP_ERROR.
    Error = 0x7f,
}

impl ResponseCode {
    /// Every response code, in code order.
    pub const ALL: [ResponseCode; 12] = [
        Self::Version,
        Self::Capabilities,
        Self::LockInterface,
        Self::DeviceInterfaceReport,
        Self::DeviceInterfaceState,
        Self::StartInterface,
        Self::StopInterface,
        Self::BindP2pStream,
        Self::UnbindP2pStream,
        Self::SetMmioAttribute,
        Self::Vdm,
        Self::Error,
    ];

    /// Maps a message type byte; unknown codes are an [`Error::UnknownCode`].
    pub fn from_u8(v: u8) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| *c as u8 == v)
            .ok_or(Error::UnknownCode {
                space: "tdisp.response_code",
                value: u64::from(v),
            })
    }
}

/// TDISP_ERROR error codes (Table 11-27 "Error Code and Error Data").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// One or more request fields are invalid.
    InvalidRequest = 0x0001,
    /// The responder is busy; retry later.
    Busy = 0x0003,
    /// The request is not valid in the TDI's current state.
    InvalidInterfaceState = 0x0004,
    /// Unspecified error.
    Unspecified = 0x0005,
    /// The request code is not supported (ERROR_DATA holds the request code).
    UnsupportedRequest = 0x0007,
    /// The version is not supported or not the negotiated one.
    VersionMismatch = 0x0041,
    /// Vendor-defined error (ERROR_DATA holds the extended data length).
    VendorSpecificError = 0x00ff,
    /// INTERFACE_ID does not exist.
    InvalidInterface = 0x0101,
    /// START_INTERFACE_NONCE does not match.
    InvalidNonce = 0x0102,
    /// The responder could not generate a nonce.
    InsufficientEntropy = 0x0103,
    /// The device configuration is invalid or unsupported.
    InvalidDeviceConfiguration = 0x0104,
}

impl ErrorCode {
    /// Every error code.
    pub const ALL: [ErrorCode; 11] = [
        Self::InvalidRequest,
        Self::Busy,
        Self::InvalidInterfaceState,
        Self::Unspecified,
        Self::UnsupportedRequest,
        Self::VersionMismatch,
        Self::VendorSpecificError,
        Self::InvalidInterface,
        Self::InvalidNonce,
        Self::InsufficientEntropy,
        Self::InvalidDeviceConfiguration,
    ];

    /// Maps an ERROR_CODE value; reserved codes are an [`Error::UnknownCode`].
    pub fn from_u32(v: u32) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| *c as u32 == v)
            .ok_or(Error::UnknownCode {
                space: "tdisp.error_code",
                value: u64::from(v),
            })
    }
}

/// FUNCTION_ID of an INTERFACE_ID (§11.2 "TDISP Rules", INTERFACE_ID definition):
/// bits 15:0 requester ID, bits 23:16 requester segment, bit 24 segment valid,
/// bits 31:25 reserved (rejected on decode so that two different ids never alias).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunctionId(u32);

impl fmt::Debug for FunctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rid = self.requester_id();
        write!(f, "FunctionId(")?;
        if let Some(seg) = self.segment() {
            write!(f, "{seg:02x}:")?;
        }
        write!(
            f,
            "{:02x}:{:02x}.{})",
            rid >> 8,
            (rid >> 3) & 0x1f,
            rid & 0x7
        )
    }
}

impl FunctionId {
    const RESERVED: u32 = 0xfe00_0000;

    /// Builds a function id from a requester ID (bus << 8 | devfn) and an optional
    /// segment.
    pub const fn new(requester_id: u16, segment: Option<u8>) -> Self {
        let seg = match segment {
            Some(s) => (1u32 << 24) | ((s as u32) << 16),
            None => 0,
        };
        Self(requester_id as u32 | seg)
    }

    /// Decodes the wire value; reserved bits 31:25 set is an [`Error::InvalidField`].
    pub fn from_u32(v: u32) -> Result<Self> {
        if v & Self::RESERVED != 0 {
            return Err(Error::InvalidField {
                field: "tdisp.function_id",
                value: u64::from(v),
            });
        }
        Ok(Self(v))
    }

    /// The wire value.
    pub const fn to_u32(self) -> u32 {
        self.0
    }

    /// Requester ID (bus in bits 15:8, device/function in bits 7:0).
    pub const fn requester_id(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The requester segment, if the segment-valid bit is set.
    pub const fn segment(self) -> Option<u8> {
        if self.0 & (1 << 24) != 0 {
            Some(((self.0 >> 16) & 0xff) as u8)
        } else {
            None
        }
    }
}

/// INTERFACE_ID: FUNCTION_ID (4 bytes) followed by 8 reserved bytes (§11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterfaceId {
    /// The function hosting the TDI.
    pub function_id: FunctionId,
}

/// The TDISP message header (Table 11-5 "TDISP Message Format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// TDISPVersion (major in bits 7:4, minor in bits 3:0).
    pub version: u8,
    /// MessageType (request or response code).
    pub message_type: u8,
    /// The TDI the message is about.
    pub interface_id: InterfaceId,
}

impl Header {
    /// Reads the protocol id byte and the 16-byte header. Any major version other
    /// than 1 is an [`Error::UnsupportedVersion`].
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let proto = r.u8()?;
        if proto != PROTOCOL_ID {
            return Err(Error::UnknownCode {
                space: "pci.protocol_id",
                value: u64::from(proto),
            });
        }
        let version = r.u8()?;
        if version >> 4 != 1 {
            return Err(Error::UnsupportedVersion { version });
        }
        let message_type = r.u8()?;
        r.skip(2)?;
        let function_id = FunctionId::from_u32(r.u32()?)?;
        r.skip(8)?;
        Ok(Self {
            version,
            message_type,
            interface_id: InterfaceId { function_id },
        })
    }

    /// Writes the protocol id byte and the header.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(PROTOCOL_ID)?;
        w.u8(self.version)?;
        w.u8(self.message_type)?;
        w.zeros(2)?;
        w.u32(self.interface_id.function_id.to_u32())?;
        w.zeros(8)
    }
}

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

/// MMIO range attributes (Table 11-15 "TDI Report Structure", MMIO_RANGE bits 15:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MmioAttributes(u16);

impl MmioAttributes {
    /// Bit 0: the range maps the MSI-X table.
    pub const MSIX_TABLE: u16 = 1 << 0;
    /// Bit 1: the range maps the MSI-X PBA.
    pub const MSIX_PBA: u16 = 1 << 1;
    /// Bit 2: IS_NON_TEE_MEM.
    pub const IS_NON_TEE_MEM: u16 = 1 << 2;
    /// Bit 3: IS_MEM_ATTR_UPDATABLE.
    pub const IS_MEM_ATTR_UPDATABLE: u16 = 1 << 3;

    /// Wraps a wire value (reserved bits 15:4 kept, so re-encoding is exact).
    pub const fn from_bits(v: u16) -> Self {
        Self(v)
    }

    /// The wire value.
    pub const fn bits(self) -> u16 {
        self.0
    }

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
        let len = u8::try_from(self.vendor_id.len()).map_err(|_| Error::InvalidField {
            field: "tdisp.vendor_id_len",
            value: self.vendor_id.len() as u64,
        })?;
        w.u8(self.registry_id)?;
        w.u8(len)?;
        w.bytes(self.vendor_id)?;
        w.bytes(self.data)
    }
}

/// TDISP request bodies (§11.3.4-§11.3.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody<'a> {
    /// GET_TDISP_VERSION (§11.3.4): no payload.
    GetVersion,
    /// GET_TDISP_CAPABILITIES (Table 11-8): TSM_CAPS.
    GetCapabilities {
        /// TSM capability flags (all bits reserved in 1.0).
        tsm_caps: u32,
    },
    /// LOCK_INTERFACE_REQUEST (Table 11-10).
    LockInterface(LockInterfaceParams),
    /// GET_DEVICE_INTERFACE_REPORT (Table 11-13).
    GetDeviceInterfaceReport {
        /// Offset into the report.
        offset: u16,
        /// Bytes requested (`FFFFh` with offset 0: the whole report).
        length: u16,
    },
    /// GET_DEVICE_INTERFACE_STATE (§11.3.12): no payload.
    GetDeviceInterfaceState,
    /// START_INTERFACE_REQUEST (Table 11-18).
    StartInterface {
        /// The nonce from LOCK_INTERFACE_RESPONSE.
        nonce: &'a [u8; NONCE_LEN],
    },
    /// STOP_INTERFACE_REQUEST (§11.3.16): no payload.
    StopInterface,
    /// BIND_P2P_STREAM_REQUEST (Table 11-20).
    BindP2pStream {
        /// The P2P stream to bind.
        p2p_stream_id: u8,
    },
    /// UNBIND_P2P_STREAM_REQUEST (Table 11-22).
    UnbindP2pStream {
        /// The P2P stream to unbind.
        p2p_stream_id: u8,
    },
    /// SET_MMIO_ATTRIBUTE_REQUEST (Table 11-24).
    SetMmioAttribute(MmioRange),
    /// VDM_REQUEST (Table 11-29).
    Vdm(VendorData<'a>),
}

impl RequestBody<'_> {
    /// The request code of this body.
    pub fn code(&self) -> RequestCode {
        match self {
            Self::GetVersion => RequestCode::GetVersion,
            Self::GetCapabilities { .. } => RequestCode::GetCapabilities,
            Self::LockInterface(_) => RequestCode::LockInterface,
            Self::GetDeviceInterfaceReport { .. } => RequestCode::GetDeviceInterfaceReport,
            Self::GetDeviceInterfaceState => RequestCode::GetDeviceInterfaceState,
            Self::StartInterface { .. } => RequestCode::StartInterface,
            Self::StopInterface => RequestCode::StopInterface,
            Self::BindP2pStream { .. } => RequestCode::BindP2pStream,
            Self::UnbindP2pStream { .. } => RequestCode::UnbindP2pStream,
            Self::SetMmioAttribute(_) => RequestCode::SetMmioAttribute,
            Self::Vdm(_) => RequestCode::Vdm,
        }
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

/// TDISP response bodies (§11.3.5-§11.3.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody<'a> {
    /// TDISP_VERSION (Table 11-7).
    Version(VersionList<'a>),
    /// TDISP_CAPABILITIES (Table 11-9).
    Capabilities(DsmCapabilities),
    /// LOCK_INTERFACE_RESPONSE (Table 11-11).
    LockInterface {
        /// START_INTERFACE_NONCE.
        nonce: &'a [u8; NONCE_LEN],
    },
    /// DEVICE_INTERFACE_REPORT (Table 11-14).
    DeviceInterfaceReport {
        /// REPORT_BYTES (PORTION_LENGTH bytes).
        portion: &'a [u8],
        /// REMAINDER_LENGTH: bytes not yet sent.
        remainder_length: u16,
    },
    /// DEVICE_INTERFACE_STATE (Table 11-17).
    DeviceInterfaceState(TdiState),
    /// START_INTERFACE_RESPONSE: no payload.
    StartInterface,
    /// STOP_INTERFACE_RESPONSE: no payload.
    StopInterface,
    /// BIND_P2P_STREAM_RESPONSE: no payload.
    BindP2pStream,
    /// UNBIND_P2P_STREAM_RESPONSE: no payload.
    UnbindP2pStream,
    /// SET_MMIO_ATTRIBUTE_RESPONSE: no payload.
    SetMmioAttribute,
    /// VDM_RESPONSE (Table 11-30).
    Vdm(VendorData<'a>),
    /// TDISP_ERROR (Table 11-26).
    Error(TdispError<'a>),
}

impl ResponseBody<'_> {
    /// The response code of this body.
    pub fn code(&self) -> ResponseCode {
        match self {
            Self::Version(_) => ResponseCode::Version,
            Self::Capabilities(_) => ResponseCode::Capabilities,
            Self::LockInterface { .. } => ResponseCode::LockInterface,
            Self::DeviceInterfaceReport { .. } => ResponseCode::DeviceInterfaceReport,
            Self::DeviceInterfaceState(_) => ResponseCode::DeviceInterfaceState,
            Self::StartInterface => ResponseCode::StartInterface,
            Self::StopInterface => ResponseCode::StopInterface,
            Self::BindP2pStream => ResponseCode::BindP2pStream,
            Self::UnbindP2pStream => ResponseCode::UnbindP2pStream,
            Self::SetMmioAttribute => ResponseCode::SetMmioAttribute,
            Self::Vdm(_) => ResponseCode::Vdm,
            Self::Error(_) => ResponseCode::Error,
        }
    }
}

/// A TDISP request: version, interface and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// TDISPVersion of the message.
    pub version: u8,
    /// Target TDI.
    pub interface_id: InterfaceId,
    /// Request-specific fields.
    pub body: RequestBody<'a>,
}

/// A TDISP response: version, interface and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// TDISPVersion of the message.
    pub version: u8,
    /// The TDI the response is about.
    pub interface_id: InterfaceId,
    /// Response-specific fields.
    pub body: ResponseBody<'a>,
}

/// Either direction, as decoded from a payload of unknown direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request (message type `80h`-`FFh`).
    Request(Request<'a>),
    /// A response (message type `00h`-`7Fh`).
    Response(Response<'a>),
}

impl<'a> Message<'a> {
    /// Decodes a vendor-defined payload, choosing the direction from the message type.
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let h = Header::read(&mut r)?;
        if h.message_type & 0x80 != 0 {
            Request::decode(payload).map(Self::Request)
        } else {
            Response::decode(payload).map(Self::Response)
        }
    }

    /// Encodes the payload into `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Self::Request(m) => m.encode(w),
            Self::Response(m) => m.encode(w),
        }
    }
}

fn nonce<'a>(r: &mut Reader<'a>) -> Result<&'a [u8; NONCE_LEN]> {
    let b = r.bytes(NONCE_LEN)?;
    <&[u8; NONCE_LEN]>::try_from(b).map_err(|_| Error::LengthMismatch {
        field: "tdisp.nonce",
        declared: NONCE_LEN,
        actual: b.len(),
    })
}

impl<'a> Request<'a> {
    /// Decodes a request payload (protocol id byte first).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let h = Header::read(&mut r)?;
        let body = match RequestCode::from_u8(h.message_type)? {
            RequestCode::GetVersion => RequestBody::GetVersion,
            RequestCode::GetCapabilities => RequestBody::GetCapabilities { tsm_caps: r.u32()? },
            RequestCode::LockInterface => {
                let flags = LockFlags::from_bits(r.u16()?)?;
                let default_stream_id = r.u8()?;
                r.skip(1)?;
                RequestBody::LockInterface(LockInterfaceParams {
                    flags,
                    default_stream_id,
                    mmio_reporting_offset: r.u64()?,
                    bind_p2p_address_mask: r.u64()?,
                })
            }
            RequestCode::GetDeviceInterfaceReport => RequestBody::GetDeviceInterfaceReport {
                offset: r.u16()?,
                length: r.u16()?,
            },
            RequestCode::GetDeviceInterfaceState => RequestBody::GetDeviceInterfaceState,
            RequestCode::StartInterface => RequestBody::StartInterface {
                nonce: nonce(&mut r)?,
            },
            RequestCode::StopInterface => RequestBody::StopInterface,
            RequestCode::BindP2pStream => RequestBody::BindP2pStream {
                p2p_stream_id: r.u8()?,
            },
            RequestCode::UnbindP2pStream => RequestBody::UnbindP2pStream {
                p2p_stream_id: r.u8()?,
            },
            RequestCode::SetMmioAttribute => {
                RequestBody::SetMmioAttribute(MmioRange::read(&mut r)?)
            }
            RequestCode::Vdm => RequestBody::Vdm(VendorData::parse(r.rest())?),
        };
        r.finish()?;
        Ok(Self {
            version: h.version,
            interface_id: h.interface_id,
            body,
        })
    }

    /// Encodes the request payload into `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Header {
            version: self.version,
            message_type: self.body.code() as u8,
            interface_id: self.interface_id,
        }
        .write(w)?;
        match &self.body {
            RequestBody::GetVersion
            | RequestBody::GetDeviceInterfaceState
            | RequestBody::StopInterface => Ok(()),
            RequestBody::GetCapabilities { tsm_caps } => w.u32(*tsm_caps),
            RequestBody::LockInterface(p) => {
                w.u16(p.flags.bits())?;
                w.u8(p.default_stream_id)?;
                w.u8(0)?;
                w.u64(p.mmio_reporting_offset)?;
                w.u64(p.bind_p2p_address_mask)
            }
            RequestBody::GetDeviceInterfaceReport { offset, length } => {
                w.u16(*offset)?;
                w.u16(*length)
            }
            RequestBody::StartInterface { nonce } => w.bytes(*nonce),
            RequestBody::BindP2pStream { p2p_stream_id }
            | RequestBody::UnbindP2pStream { p2p_stream_id } => w.u8(*p2p_stream_id),
            RequestBody::SetMmioAttribute(m) => m.write(w),
            RequestBody::Vdm(v) => v.write(w),
        }
    }
}

impl<'a> Response<'a> {
    /// Decodes a response payload (protocol id byte first).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let h = Header::read(&mut r)?;
        let body = match ResponseCode::from_u8(h.message_type)? {
            ResponseCode::Version => {
                let n = r.u8()?;
                ResponseBody::Version(VersionList::new(r.bytes(usize::from(n))?)?)
            }
            ResponseCode::Capabilities => {
                let dsm_caps = r.u32()?;
                let req_msgs_supported = r.array::<16>()?;
                let lock_interface_flags_supported = r.u16()?;
                r.skip(3)?;
                ResponseBody::Capabilities(DsmCapabilities {
                    dsm_caps,
                    req_msgs_supported,
                    lock_interface_flags_supported,
                    dev_addr_width: r.u8()?,
                    num_req_this: r.u8()?,
                    num_req_all: r.u8()?,
                })
            }
            ResponseCode::LockInterface => ResponseBody::LockInterface {
                nonce: nonce(&mut r)?,
            },
            ResponseCode::DeviceInterfaceReport => {
                let portion_len = r.u16()?;
                let remainder_length = r.u16()?;
                let portion = r.bytes(usize::from(portion_len))?;
                ResponseBody::DeviceInterfaceReport {
                    portion,
                    remainder_length,
                }
            }
            ResponseCode::DeviceInterfaceState => {
                ResponseBody::DeviceInterfaceState(TdiState::from_u8(r.u8()?)?)
            }
            ResponseCode::StartInterface => ResponseBody::StartInterface,
            ResponseCode::StopInterface => ResponseBody::StopInterface,
            ResponseCode::BindP2pStream => ResponseBody::BindP2pStream,
            ResponseCode::UnbindP2pStream => ResponseBody::UnbindP2pStream,
            ResponseCode::SetMmioAttribute => ResponseBody::SetMmioAttribute,
            ResponseCode::Vdm => ResponseBody::Vdm(VendorData::parse(r.rest())?),
            ResponseCode::Error => {
                let code = ErrorCode::from_u32(r.u32()?)?;
                let error_data = r.u32()?;
                let extended = if code == ErrorCode::VendorSpecificError {
                    let ext = r.rest();
                    if u32::try_from(ext.len()).ok() != Some(error_data) {
                        return Err(Error::LengthMismatch {
                            field: "tdisp.error_data",
                            declared: error_data as usize,
                            actual: ext.len(),
                        });
                    }
                    Some(VendorData::parse(ext)?)
                } else {
                    None
                };
                ResponseBody::Error(TdispError {
                    code,
                    error_data,
                    extended,
                })
            }
        };
        r.finish()?;
        Ok(Self {
            version: h.version,
            interface_id: h.interface_id,
            body,
        })
    }

    /// Encodes the response payload into `w`.
    ///
    /// For TDISP_ERROR, `extended` must be present exactly for VENDOR_SPECIFIC_ERROR
    /// and ERROR_DATA must equal its encoded length; otherwise
    /// [`Error::InvalidField`] / [`Error::LengthMismatch`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Header {
            version: self.version,
            message_type: self.body.code() as u8,
            interface_id: self.interface_id,
        }
        .write(w)?;
        match &self.body {
            ResponseBody::Version(v) => {
                let n = u8::try_from(v.entries().len()).map_err(|_| Error::InvalidField {
                    field: "tdisp.version_num_count",
                    value: v.entries().len() as u64,
                })?;
                w.u8(n)?;
                w.bytes(v.entries())
            }
            ResponseBody::Capabilities(c) => {
                w.u32(c.dsm_caps)?;
                w.bytes(&c.req_msgs_supported)?;
                w.u16(c.lock_interface_flags_supported)?;
                w.zeros(3)?;
                w.u8(c.dev_addr_width)?;
                w.u8(c.num_req_this)?;
                w.u8(c.num_req_all)
            }
            ResponseBody::LockInterface { nonce } => w.bytes(*nonce),
            ResponseBody::DeviceInterfaceReport {
                portion,
                remainder_length,
            } => {
                let n = u16::try_from(portion.len()).map_err(|_| Error::InvalidField {
                    field: "tdisp.portion_length",
                    value: portion.len() as u64,
                })?;
                w.u16(n)?;
                w.u16(*remainder_length)?;
                w.bytes(portion)
            }
            ResponseBody::DeviceInterfaceState(s) => w.u8(*s as u8),
            ResponseBody::StartInterface
            | ResponseBody::StopInterface
            | ResponseBody::BindP2pStream
            | ResponseBody::UnbindP2pStream
            | ResponseBody::SetMmioAttribute => Ok(()),
            ResponseBody::Vdm(v) => v.write(w),
            ResponseBody::Error(e) => {
                let vendor = e.code == ErrorCode::VendorSpecificError;
                match (&e.extended, vendor) {
                    (Some(ext), true) => {
                        if ext.encoded_len() as u64 != u64::from(e.error_data) {
                            return Err(Error::LengthMismatch {
                                field: "tdisp.error_data",
                                declared: e.error_data as usize,
                                actual: ext.encoded_len(),
                            });
                        }
                    }
                    (None, false) => {}
                    _ => {
                        return Err(Error::InvalidField {
                            field: "tdisp.extended_error_data",
                            value: u64::from(e.code as u32),
                        })
                    }
                }
                w.u32(e.code as u32)?;
                w.u32(e.error_data)?;
                match &e.extended {
                    Some(ext) => ext.write(w),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IF: InterfaceId = InterfaceId {
        function_id: FunctionId::new(0x0108, Some(2)),
    };

    #[test]
    fn function_id_fields() {
        let f = IF.function_id;
        assert_eq!(f.to_u32(), 0x0102_0108);
        assert_eq!(f.requester_id(), 0x0108);
        assert_eq!(f.segment(), Some(2));
        assert!(FunctionId::from_u32(0x0200_0000).is_err());
        assert_eq!(FunctionId::new(5, None).segment(), None);
    }

    #[test]
    fn lock_flags_reject_reserved() {
        assert!(LockFlags::from_bits(0x20).is_err());
        assert_eq!(LockFlags::from_bits(0x1f), Ok(LockFlags::ALL));
        assert!(LockFlags::ALL.contains(LockFlags::LOCK_MSIX));
    }

    #[test]
    fn get_state_round_trip() {
        let req = Request {
            version: VERSION_1_0,
            interface_id: IF,
            body: RequestBody::GetDeviceInterfaceState,
        };
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        req.encode(&mut w).unwrap();
        let n = w.finish();
        assert_eq!(n, 17);
        assert_eq!(Request::decode(&buf[..n]), Ok(req));
        assert_eq!(Message::decode(&buf[..n]), Ok(Message::Request(req)));
    }

    #[test]
    fn caps_supports_bitmap() {
        let mut c = DsmCapabilities {
            dsm_caps: 0,
            req_msgs_supported: [0; 16],
            lock_interface_flags_supported: 0xffff,
            dev_addr_width: 52,
            num_req_this: 1,
            num_req_all: 1,
        };
        c.set_supported(RequestCode::Vdm);
        assert_eq!(c.req_msgs_supported[1], 0x08);
        assert!(c.supports(RequestCode::Vdm));
        assert!(!c.supports(RequestCode::GetVersion));
        assert_eq!(c.lock_flags_supported(), LockFlags::ALL);
    }

    #[test]
    fn error_vendor_extended_length_checked() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let ext = VendorData {
            registry_id: 0,
            vendor_id: &[0x86, 0x80],
            data: &[1, 2, 3],
        };
        let bad = Response {
            version: VERSION_1_0,
            interface_id: IF,
            body: ResponseBody::Error(TdispError {
                code: ErrorCode::VendorSpecificError,
                error_data: 6,
                extended: Some(ext),
            }),
        };
        assert!(bad.encode(&mut w).is_err());
    }
}
