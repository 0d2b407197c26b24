// SPDX-License-Identifier: GPL-2.0

//! VERSION and CAPABILITIES exchanges (DSP0274 1.3.0 §10.3 and §10.4).

use super::super::codec::{Error, Reader, Result, Writer};
use super::{code, put_header, Ctx, Header, Negotiated, Version, VERSION_10};

/// One VERSION entry (DSP0274 1.3.0 §10.3, Table "VersionNumber entry definition"):
/// bits 15:12 major, 11:8 minor, 7:4 update, 3:0 alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionNumber(pub u16);

impl VersionNumber {
    /// Builds an entry for `major.minor` with update and alpha zero.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self((((major & 0xf) as u16) << 12) | (((minor & 0xf) as u16) << 8))
    }

    /// Major version.
    pub const fn major(self) -> u8 {
        (self.0 >> 12) as u8
    }

    /// Minor version.
    pub const fn minor(self) -> u8 {
        ((self.0 >> 8) & 0xf) as u8
    }

    /// Update version.
    pub const fn update(self) -> u8 {
        ((self.0 >> 4) & 0xf) as u8
    }

    /// Alpha (pre-release) number.
    pub const fn alpha(self) -> u8 {
        (self.0 & 0xf) as u8
    }

    /// The `SPDMVersion` byte (`major << 4 | minor`) this entry stands for.
    pub const fn version_byte(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Little-endian wire form, for building a VERSION entry list.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }
}

/// VERSION response body (DSP0274 1.3.0 §10.3, Table "Successful VERSION response
/// message format"): Reserved, VersionNumberEntryCount, then the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionResponse<'a> {
    /// The raw entries, two little-endian bytes each.
    pub entries: &'a [u8],
}

impl<'a> VersionResponse<'a> {
    pub(super) fn decode_body(r: &mut Reader<'a>) -> Result<Self> {
        r.skip(1)?;
        let n = usize::from(r.u8()?);
        let entries = r.bytes(n.saturating_mul(2))?;
        Ok(Self { entries })
    }

    /// Number of entries.
    pub fn count(&self) -> usize {
        self.entries.len() / 2
    }

    /// The entries in wire order.
    pub fn iter(&self) -> impl Iterator<Item = VersionNumber> + 'a {
        self.entries
            .chunks_exact(2)
            .filter_map(|c| <[u8; 2]>::try_from(c).ok())
            .map(|c| VersionNumber(u16::from_le_bytes(c)))
    }

    /// The highest version in both this list and `ours`.
    pub fn highest_common(&self, ours: &[Version]) -> Option<Version> {
        self.iter()
            .filter_map(|v| Version::from_byte(v.version_byte()).ok())
            .filter(|v| ours.contains(v))
            .max()
    }

    /// Encodes the whole message (version byte 1.0).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let n = self.entries.len() / 2;
        if self.entries.len() % 2 != 0 || n > usize::from(u8::MAX) {
            return Err(Error::InvalidField {
                field: "spdm.version_entry_count",
                value: self.entries.len() as u64,
            });
        }
        Header {
            version: VERSION_10,
            code: code::VERSION,
            param1: 0,
            param2: 0,
        }
        .encode(w)?;
        w.u8(0)?;
        w.u8(n as u8)?;
        w.bytes(self.entries)
    }
}

/// Capability flags of GET_CAPABILITIES and CAPABILITIES (DSP0274 1.3.0 §10.4, Tables
/// "Flag fields definitions for the Requester/Responder"). The same bit positions serve
/// both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapabilityFlags(pub u32);

impl CapabilityFlags {
    /// CACHE_CAP (responder).
    pub const CACHE: Self = Self(1 << 0);
    /// CERT_CAP.
    pub const CERT: Self = Self(1 << 1);
    /// CHAL_CAP.
    pub const CHAL: Self = Self(1 << 2);
    /// MEAS_CAP = 01b: measurements without signature (responder).
    pub const MEAS_NO_SIG: Self = Self(1 << 3);
    /// MEAS_CAP = 10b: measurements with signature (responder).
    pub const MEAS_SIG: Self = Self(2 << 3);
    /// MEAS_FRESH_CAP (responder).
    pub const MEAS_FRESH: Self = Self(1 << 5);
    /// ENCRYPT_CAP.
    pub const ENCRYPT: Self = Self(1 << 6);
    /// MAC_CAP.
    pub const MAC: Self = Self(1 << 7);
    /// MUT_AUTH_CAP.
    pub const MUT_AUTH: Self = Self(1 << 8);
    /// KEY_EX_CAP.
    pub const KEY_EX: Self = Self(1 << 9);
    /// PSK_CAP = 01b: PSK supported (responder without context / requester).
    pub const PSK: Self = Self(1 << 10);
    /// PSK_CAP = 10b: PSK with responder context (responder).
    pub const PSK_WITH_CONTEXT: Self = Self(2 << 10);
    /// ENCAP_CAP.
    pub const ENCAP: Self = Self(1 << 12);
    /// HBEAT_CAP.
    pub const HBEAT: Self = Self(1 << 13);
    /// KEY_UPD_CAP.
    pub const KEY_UPD: Self = Self(1 << 14);
    /// HANDSHAKE_IN_THE_CLEAR_CAP.
    pub const HANDSHAKE_IN_THE_CLEAR: Self = Self(1 << 15);
    /// PUB_KEY_ID_CAP.
    pub const PUB_KEY_ID: Self = Self(1 << 16);
    /// CHUNK_CAP.
    pub const CHUNK: Self = Self(1 << 17);
    /// ALIAS_CERT_CAP (responder).
    pub const ALIAS_CERT: Self = Self(1 << 18);
    /// SET_CERT_CAP (responder).
    pub const SET_CERT: Self = Self(1 << 19);
    /// CSR_CAP (responder).
    pub const CSR: Self = Self(1 << 20);
    /// CERT_INSTALL_RESET_CAP (responder).
    pub const CERT_INSTALL_RESET: Self = Self(1 << 21);
    /// EP_INFO_CAP field (1.3), two bits.
    pub const EP_INFO_MASK: Self = Self(3 << 22);
    /// MEL_CAP (1.3, responder).
    pub const MEL: Self = Self(1 << 24);
    /// EVENT_CAP (1.3).
    pub const EVENT: Self = Self(1 << 25);
    /// MULTI_KEY_CAP field (1.3), two bits.
    pub const MULTI_KEY_MASK: Self = Self(3 << 26);
    /// GET_KEY_PAIR_INFO_CAP (1.3, responder).
    pub const GET_KEY_PAIR_INFO: Self = Self(1 << 28);
    /// SET_KEY_PAIR_INFO_CAP (1.3, responder).
    pub const SET_KEY_PAIR_INFO: Self = Self(1 << 29);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two flag sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The two-bit MEAS_CAP field (0 none, 1 without signature, 2 with signature).
    pub const fn meas_cap(self) -> u8 {
        ((self.0 >> 3) & 3) as u8
    }

    /// The two-bit PSK_CAP field.
    pub const fn psk_cap(self) -> u8 {
        ((self.0 >> 10) & 3) as u8
    }
}

/// Param1 bit 0 of GET_CAPABILITIES / CAPABILITIES (1.3): SupportedAlgorithms block
/// requested / present.
pub const SUPPORTED_ALGORITHMS: u8 = 1 << 0;
/// Smallest SupportedAlgorithms block (its fixed fields).
pub const MIN_SUPPORTED_ALGORITHMS_LEN: usize = 30;

/// Smallest DataTransferSize an endpoint may declare (DSP0274 1.2/1.3
/// "MinDataTransferSize", §10.4).
pub const MIN_DATA_TRANSFER_SIZE: u32 = 42;

fn check_sizes(dts: u32, max: u32) -> Result<()> {
    if dts < MIN_DATA_TRANSFER_SIZE {
        return Err(Error::InvalidField {
            field: "spdm.data_transfer_size",
            value: u64::from(dts),
        });
    }
    if max < dts {
        return Err(Error::InvalidField {
            field: "spdm.max_spdm_msg_size",
            value: u64::from(max),
        });
    }
    Ok(())
}

/// Reads the fields GET_CAPABILITIES and CAPABILITIES share after the header: Reserved,
/// CTExponent, Reserved(2), Flags, DataTransferSize, MaxSPDMmsgSize (the sizes checked).
fn get_cap_fields(r: &mut Reader<'_>) -> Result<(u8, CapabilityFlags, u32, u32)> {
    r.skip(1)?;
    let ct_exponent = r.u8()?;
    r.skip(2)?;
    let flags = CapabilityFlags(r.u32()?);
    let data_transfer_size = r.u32()?;
    let max_spdm_msg_size = r.u32()?;
    check_sizes(data_transfer_size, max_spdm_msg_size)?;
    Ok((ct_exponent, flags, data_transfer_size, max_spdm_msg_size))
}

/// Writes the fields [`get_cap_fields`] reads.
fn put_cap_fields(
    w: &mut Writer<'_>,
    ct_exponent: u8,
    flags: CapabilityFlags,
    dts: u32,
    max: u32,
) -> Result<()> {
    w.u8(0)?;
    w.u8(ct_exponent)?;
    w.zeros(2)?;
    w.u32(flags.0)?;
    w.u32(dts)?;
    w.u32(max)
}

/// GET_CAPABILITIES request (DSP0274 1.3.0 §10.4, Table "GET_CAPABILITIES request
/// message format"): Reserved, CTExponent, Reserved(2), Flags, DataTransferSize,
/// MaxSPDMmsgSize; 20 bytes in 1.2 and 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetCapabilities {
    /// Param1 (1.3: bit 0 asks for the supported-algorithms block; reserved in 1.2,
    /// decoded as 0).
    pub param1: u8,
    /// CTExponent: cryptographic timeout is 2^CTExponent microseconds.
    pub ct_exponent: u8,
    /// Requester capability flags.
    pub flags: CapabilityFlags,
    /// DataTransferSize: largest single message the requester receives.
    pub data_transfer_size: u32,
    /// MaxSPDMmsgSize: largest (chunked) SPDM message the requester handles.
    pub max_spdm_msg_size: u32,
}

impl GetCapabilities {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'_>, cx: Ctx<'_>) -> Result<Self> {
        let (ct_exponent, flags, data_transfer_size, max_spdm_msg_size) = get_cap_fields(r)?;
        Ok(Self {
            param1: if cx.v13() { h.param1 } else { 0 },
            ct_exponent,
            flags,
            data_transfer_size,
            max_spdm_msg_size,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_sizes(self.data_transfer_size, self.max_spdm_msg_size)?;
        let p1 = if neg.version >= Version::V13 {
            self.param1
        } else {
            0
        };
        put_header(w, neg, code::GET_CAPABILITIES, p1, 0)?;
        put_cap_fields(
            w,
            self.ct_exponent,
            self.flags,
            self.data_transfer_size,
            self.max_spdm_msg_size,
        )
    }
}

/// CAPABILITIES response (DSP0274 1.3.0 §10.4, Table "Successful CAPABILITIES response
/// message format"): the same fixed fields as the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities<'a> {
    /// CTExponent of the responder.
    pub ct_exponent: u8,
    /// Responder capability flags.
    pub flags: CapabilityFlags,
    /// DataTransferSize of the responder.
    pub data_transfer_size: u32,
    /// MaxSPDMmsgSize of the responder.
    pub max_spdm_msg_size: u32,
    /// 1.3 only: the SupportedAlgorithms block (present when Param1 bit 0 is set, in
    /// answer to GET_CAPABILITIES Param1 bit 0), kept raw; empty otherwise. Its layout is
    /// the NEGOTIATE_ALGORITHMS body after the version and code bytes: AlgStruct count,
    /// reserved, Length (u16, the block's own size, at least 30), then the fields; only
    /// the Length is checked here.
    pub supported_algorithms: &'a [u8],
}

impl<'a> Capabilities<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let (ct_exponent, flags, data_transfer_size, max_spdm_msg_size) = get_cap_fields(r)?;
        let supported_algorithms = if cx.v13() && h.param1 & SUPPORTED_ALGORITHMS != 0 {
            let mut peek = r.clone();
            peek.skip(2)?;
            let len = usize::from(peek.u16()?);
            if len < MIN_SUPPORTED_ALGORITHMS_LEN {
                return Err(Error::InvalidField {
                    field: "spdm.supported_algorithms_length",
                    value: len as u64,
                });
            }
            r.bytes(len)?
        } else {
            &[]
        };
        Ok(Self {
            ct_exponent,
            flags,
            data_transfer_size,
            max_spdm_msg_size,
            supported_algorithms,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_sizes(self.data_transfer_size, self.max_spdm_msg_size)?;
        let block = self.supported_algorithms;
        if !block.is_empty() {
            let declared = block
                .get(2..4)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map_or(0, |b| usize::from(u16::from_le_bytes(b)));
            if neg.version < Version::V13
                || declared != block.len()
                || declared < MIN_SUPPORTED_ALGORITHMS_LEN
            {
                return Err(Error::InvalidField {
                    field: "spdm.supported_algorithms",
                    value: block.len() as u64,
                });
            }
        }
        let p1 = if block.is_empty() {
            0
        } else {
            SUPPORTED_ALGORITHMS
        };
        put_header(w, neg, code::CAPABILITIES, p1, 0)?;
        put_cap_fields(
            w,
            self.ct_exponent,
            self.flags,
            self.data_transfer_size,
            self.max_spdm_msg_size,
        )?;
        w.bytes(self.supported_algorithms)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Request, Response};
    use super::*;

    #[test]
    fn version_response_golden() {
        // DSP0274 1.3.0 §10.3: VERSION 1.0, 2 entries: 1.2 (0x1200) and 1.3 (0x1300).
        let b = [0x10, 0x04, 0, 0, 0, 2, 0x00, 0x12, 0x00, 0x13];
        let neg = Negotiated::initial(Version::V12);
        let Response::Version(v) = Response::decode(&b, &neg).unwrap() else {
            panic!("not VERSION");
        };
        assert_eq!(v.count(), 2);
        assert_eq!(
            v.highest_common(&[Version::V12, Version::V13]),
            Some(Version::V13)
        );
        assert_eq!(v.highest_common(&[Version::V12]), Some(Version::V12));
        let first = v.iter().next().unwrap();
        assert_eq!((first.major(), first.minor()), (1, 2));
        assert_eq!(VersionNumber::new(1, 3).to_bytes(), [0x00, 0x13]);
    }

    #[test]
    fn get_capabilities_golden() {
        // DSP0274 1.2.0 §10.4 GET_CAPABILITIES: CTExponent 12, CERT|CHAL|ENCRYPT|MAC|
        // KEY_EX|HBEAT|KEY_UPD = 0x62c6, DataTransferSize 0x1000, MaxSPDMmsgSize 0x1200.
        let b = [
            0x12, 0xe1, 0, 0, 0, 12, 0, 0, 0xc6, 0x62, 0, 0, 0x00, 0x10, 0, 0, 0x00, 0x12, 0, 0,
        ];
        let neg = Negotiated::initial(Version::V12);
        let Request::GetCapabilities(c) = Request::decode(&b, &neg).unwrap() else {
            panic!()
        };
        assert!(c
            .flags
            .contains(CapabilityFlags::KEY_EX.union(CapabilityFlags::HBEAT)));
        assert_eq!(c.ct_exponent, 12);
        let mut out = [0u8; 20];
        c.encode(&mut Writer::new(&mut out), &neg).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn capabilities_sizes_are_checked() {
        let mut b = [
            0x12, 0x61, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0, 0, 0x12, 0, 0,
        ];
        let neg = Negotiated::initial(Version::V12);
        assert!(matches!(
            Response::decode(&b, &neg),
            Err(Error::InvalidField { .. })
        ));
        b[12] = 0x00;
        b[13] = 0x20;
        assert!(matches!(
            Response::decode(&b, &neg),
            Err(Error::InvalidField { .. })
        ));
    }

    #[test]
    fn capabilities_13_block_is_bounded_by_its_length_not_by_padding() {
        // Regression (proptest): the 1.3 SupportedAlgorithms block used to swallow the
        // DOE padding. DSP0274 1.3.0 §10.4: Param1 bit 0 marks the block, whose own
        // Length (offset 2) bounds it.
        let mut b = [0u8; 52];
        b[..20].copy_from_slice(&[
            0x13, 0x61, 0x01, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0,
        ]);
        b[22] = 31; // block Length; b[51] is one byte of padding
        let neg = Negotiated::initial(Version::V13);
        let Response::Capabilities(c) = Response::decode_padded(&b, &neg).unwrap() else {
            panic!()
        };
        assert_eq!(c.supported_algorithms.len(), 31);
        assert!(Response::decode(&b, &neg).is_err());
        b[22] = 29; // shorter than the fixed fields
        assert!(Response::decode_padded(&b, &neg).is_err());
    }
}
