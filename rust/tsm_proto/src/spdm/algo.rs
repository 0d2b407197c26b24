// SPDX-License-Identifier: GPL-2.0

//! NEGOTIATE_ALGORITHMS / ALGORITHMS (DSP0274 1.3.0 §10.5) and the algorithm bit values
//! with the sizes they imply.

use super::super::codec::{len_field, Error, Reader, Result, Writer};
use super::{code, end, put_header, Ctx, Header, Negotiated, Version};

/// BaseAsymAlgo / BaseAsymSel / ReqBaseAsymAlg bits (DSP0274 1.3.0 §10.5, Table
/// "Byte offsets and bit fields of BaseAsymAlgo").
pub mod asym {
    /// TPM_ALG_RSASSA_2048.
    pub const RSASSA_2048: u32 = 1 << 0;
    /// TPM_ALG_RSAPSS_2048.
    pub const RSAPSS_2048: u32 = 1 << 1;
    /// TPM_ALG_RSASSA_3072.
    pub const RSASSA_3072: u32 = 1 << 2;
    /// TPM_ALG_RSAPSS_3072.
    pub const RSAPSS_3072: u32 = 1 << 3;
    /// TPM_ALG_ECDSA_ECC_NIST_P256.
    pub const ECDSA_P256: u32 = 1 << 4;
    /// TPM_ALG_RSASSA_4096.
    pub const RSASSA_4096: u32 = 1 << 5;
    /// TPM_ALG_RSAPSS_4096.
    pub const RSAPSS_4096: u32 = 1 << 6;
    /// TPM_ALG_ECDSA_ECC_NIST_P384.
    pub const ECDSA_P384: u32 = 1 << 7;
    /// TPM_ALG_ECDSA_ECC_NIST_P521.
    pub const ECDSA_P521: u32 = 1 << 8;
    /// TPM_ALG_SM2_ECC_SM2_P256.
    pub const SM2_P256: u32 = 1 << 9;
    /// EdDSA ed25519.
    pub const EDDSA_25519: u32 = 1 << 10;
    /// EdDSA ed448.
    pub const EDDSA_448: u32 = 1 << 11;
}

/// BaseHashAlgo / BaseHashSel bits (DSP0274 1.3.0 §10.5).
pub mod hash {
    /// TPM_ALG_SHA_256.
    pub const SHA_256: u32 = 1 << 0;
    /// TPM_ALG_SHA_384.
    pub const SHA_384: u32 = 1 << 1;
    /// TPM_ALG_SHA_512.
    pub const SHA_512: u32 = 1 << 2;
    /// TPM_ALG_SHA3_256.
    pub const SHA3_256: u32 = 1 << 3;
    /// TPM_ALG_SHA3_384.
    pub const SHA3_384: u32 = 1 << 4;
    /// TPM_ALG_SHA3_512.
    pub const SHA3_512: u32 = 1 << 5;
    /// TPM_ALG_SM3_256.
    pub const SM3_256: u32 = 1 << 6;
}

/// MeasurementHashAlgo bits (DSP0274 1.3.0 §10.5, ALGORITHMS).
pub mod meas_hash {
    /// Raw bit stream only.
    pub const RAW_BIT_STREAM: u32 = 1 << 0;
    /// TPM_ALG_SHA_256.
    pub const SHA_256: u32 = 1 << 1;
    /// TPM_ALG_SHA_384.
    pub const SHA_384: u32 = 1 << 2;
    /// TPM_ALG_SHA_512.
    pub const SHA_512: u32 = 1 << 3;
    /// TPM_ALG_SHA3_256.
    pub const SHA3_256: u32 = 1 << 4;
    /// TPM_ALG_SHA3_384.
    pub const SHA3_384: u32 = 1 << 5;
    /// TPM_ALG_SHA3_512.
    pub const SHA3_512: u32 = 1 << 6;
    /// TPM_ALG_SM3_256.
    pub const SM3_256: u32 = 1 << 7;
}

/// DHE group bits of the DHE AlgStruct (DSP0274 1.3.0 §10.5, Table "DHE").
pub mod dhe {
    /// ffdhe2048.
    pub const FFDHE_2048: u16 = 1 << 0;
    /// ffdhe3072.
    pub const FFDHE_3072: u16 = 1 << 1;
    /// ffdhe4096.
    pub const FFDHE_4096: u16 = 1 << 2;
    /// secp256r1.
    pub const SECP256R1: u16 = 1 << 3;
    /// secp384r1.
    pub const SECP384R1: u16 = 1 << 4;
    /// secp521r1.
    pub const SECP521R1: u16 = 1 << 5;
    /// SM2_P256.
    pub const SM2_P256: u16 = 1 << 6;
}

/// AEAD cipher suite bits of the AEADCipherSuite AlgStruct (DSP0274 1.3.0 §10.5).
pub mod aead {
    /// AES-128-GCM.
    pub const AES_128_GCM: u16 = 1 << 0;
    /// AES-256-GCM.
    pub const AES_256_GCM: u16 = 1 << 1;
    /// CHACHA20_POLY1305.
    pub const CHACHA20_POLY1305: u16 = 1 << 2;
    /// AEAD_SM4_GCM.
    pub const SM4_GCM: u16 = 1 << 3;
}

/// KeySchedule bits (DSP0274 1.3.0 §10.5): bit 0 is the SPDM key schedule.
pub const KEY_SCHEDULE_SPDM: u16 = 1 << 0;
/// MeasurementSpecification bit 0: DMTF measurement specification.
pub const MEASUREMENT_SPEC_DMTF: u8 = 1 << 0;
/// OtherParams bit 1: OpaqueDataFmt1 (the general opaque data format, DSP0274 §A).
pub const OPAQUE_DATA_FMT1: u8 = 1 << 1;

const fn single_bit(v: u32) -> bool {
    v != 0 && v & (v - 1) == 0
}

/// Digest size of a single BaseHashSel bit, `None` unless exactly one known bit is set.
pub const fn hash_size(sel: u32) -> Option<usize> {
    if !single_bit(sel) {
        return None;
    }
    match sel {
        hash::SHA_256 | hash::SHA3_256 | hash::SM3_256 => Some(32),
        hash::SHA_384 | hash::SHA3_384 => Some(48),
        hash::SHA_512 | hash::SHA3_512 => Some(64),
        _ => None,
    }
}

/// Digest size of a single MeasurementHashAlgo bit (`Some(0)` for raw bit stream).
pub const fn measurement_hash_size(sel: u32) -> Option<usize> {
    if !single_bit(sel) {
        return None;
    }
    match sel {
        meas_hash::RAW_BIT_STREAM => Some(0),
        meas_hash::SHA_256 | meas_hash::SHA3_256 | meas_hash::SM3_256 => Some(32),
        meas_hash::SHA_384 | meas_hash::SHA3_384 => Some(48),
        meas_hash::SHA_512 | meas_hash::SHA3_512 => Some(64),
        _ => None,
    }
}

/// Signature size of a single asymmetric algorithm bit (DSP0274 1.3.0 §10.5 and the
/// signature encodings of §15: RSA modulus size, ECDSA r||s, EdDSA per RFC 8032).
pub const fn signature_size(sel: u32) -> Option<usize> {
    if !single_bit(sel) {
        return None;
    }
    match sel {
        asym::RSASSA_2048 | asym::RSAPSS_2048 => Some(256),
        asym::RSASSA_3072 | asym::RSAPSS_3072 => Some(384),
        asym::RSASSA_4096 | asym::RSAPSS_4096 => Some(512),
        asym::ECDSA_P256 | asym::SM2_P256 | asym::EDDSA_25519 => Some(64),
        asym::ECDSA_P384 => Some(96),
        asym::ECDSA_P521 => Some(132),
        asym::EDDSA_448 => Some(114),
        _ => None,
    }
}

/// Exchange data size of a single DHE group bit (DSP0274 1.3.0 §10.14: FFDHE public
/// value, or X||Y for the elliptic curves).
pub const fn dhe_size(sel: u16) -> Option<usize> {
    if !single_bit(sel as u32) {
        return None;
    }
    match sel {
        dhe::FFDHE_2048 => Some(256),
        dhe::FFDHE_3072 => Some(384),
        dhe::FFDHE_4096 => Some(512),
        dhe::SECP256R1 | dhe::SM2_P256 => Some(64),
        dhe::SECP384R1 => Some(96),
        dhe::SECP521R1 => Some(132),
        _ => None,
    }
}

/// Key, IV and tag sizes of a single AEAD bit: `(key, iv, tag)`.
pub const fn aead_sizes(sel: u16) -> Option<(usize, usize, usize)> {
    match sel {
        aead::AES_128_GCM | aead::SM4_GCM => Some((16, 12, 16)),
        aead::AES_256_GCM | aead::CHACHA20_POLY1305 => Some((32, 12, 16)),
        _ => None,
    }
}

wire_enum! {
    /// AlgType of an algorithm structure (DSP0274 1.3.0 §10.5, Table "AlgType").
    #[derive(PartialOrd, Ord)]
    pub enum AlgType(u8, "spdm.alg_type") decode from_byte encode byte {
        /// 2: DHE groups.
        Dhe = 2,
        /// 3: AEAD cipher suites.
        AeadCipherSuite = 3,
        /// 4: requester base asymmetric algorithms.
        ReqBaseAsymAlg = 4,
        /// 5: key schedules.
        KeySchedule = 5,
    }
}

/// One algorithm structure (DSP0274 1.3.0 §10.5, Table "Algorithm request/response
/// structure"): AlgType, AlgCount (bits 7:4 fixed-algorithm bytes, always 2 here; bits
/// 3:0 number of external algorithms), AlgSupported (u16), AlgExternal (4 bytes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgStruct<'a> {
    /// Which algorithm family.
    pub alg_type: AlgType,
    /// Bit mask of supported (request) or selected (response) algorithms.
    pub supported: u16,
    /// External algorithm entries, four bytes each (at most 15).
    pub external: &'a [u8],
}

impl<'a> AlgStruct<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let alg_type = AlgType::from_byte(r.u8()?)?;
        let count = r.u8()?;
        let fixed = count >> 4;
        if fixed != 2 {
            return Err(Error::InvalidField {
                field: "spdm.alg_count",
                value: u64::from(count),
            });
        }
        let supported = r.u16()?;
        let external = r.bytes(usize::from(count & 0xf) * 4)?;
        Ok(Self {
            alg_type,
            supported,
            external,
        })
    }

    /// Encoded size.
    pub fn len(&self) -> usize {
        4usize.saturating_add(self.external.len())
    }

    /// Always false: a structure is at least four bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encodes the structure.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let n = self.external.len() / 4;
        if self.external.len() % 4 != 0 || n > 15 {
            return Err(Error::InvalidField {
                field: "spdm.alg_external",
                value: self.external.len() as u64,
            });
        }
        w.u8(self.alg_type.byte())?;
        w.u8(0x20 | n as u8)?;
        w.u16(self.supported)?;
        w.bytes(self.external)
    }
}

/// The algorithm structure table of NEGOTIATE_ALGORITHMS / ALGORITHMS, kept as the
/// validated raw bytes plus the count from Param1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgStructs<'a> {
    /// Number of structures (Param1).
    pub count: u8,
    /// The structures back to back.
    pub bytes: &'a [u8],
}

impl<'a> AlgStructs<'a> {
    /// An empty table.
    pub const EMPTY: AlgStructs<'static> = AlgStructs {
        count: 0,
        bytes: &[],
    };

    fn decode(r: &mut Reader<'a>, count: u8) -> Result<Self> {
        let start = r.clone();
        let before = r.position();
        for _ in 0..count {
            AlgStruct::decode(r)?;
        }
        let len = r.position().saturating_sub(before);
        let bytes = start.clone().bytes(len)?;
        Ok(Self { count, bytes })
    }

    /// Checks that `bytes` holds exactly `count` well-formed structures.
    pub fn validate(&self) -> Result<()> {
        let mut r = Reader::new(self.bytes);
        for _ in 0..self.count {
            AlgStruct::decode(&mut r)?;
        }
        r.finish()
    }

    /// Iterates the structures; each item is `Ok` for a validated table.
    pub fn iter(&self) -> AlgStructIter<'a> {
        AlgStructIter {
            r: Reader::new(self.bytes),
            left: self.count,
        }
    }

    /// The first structure of the given type.
    pub fn find(&self, t: AlgType) -> Option<AlgStruct<'a>> {
        self.iter().filter_map(|s| s.ok()).find(|s| s.alg_type == t)
    }
}

/// Iterator over an [`AlgStructs`] table.
#[derive(Debug, Clone)]
pub struct AlgStructIter<'a> {
    r: Reader<'a>,
    left: u8,
}

impl<'a> Iterator for AlgStructIter<'a> {
    type Item = Result<AlgStruct<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = AlgStruct::decode(&mut self.r);
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

fn ext_list<'a>(r: &mut Reader<'a>, count: u8) -> Result<&'a [u8]> {
    r.bytes(usize::from(count) * 4)
}

fn ext_count(field: &'static str, list: &[u8]) -> Result<u8> {
    let n = list.len() / 4;
    if list.len() % 4 != 0 || n > usize::from(u8::MAX) {
        return Err(Error::InvalidField {
            field,
            value: list.len() as u64,
        });
    }
    Ok(n as u8)
}

/// Reads the u16 Length and returns a reader limited to the message it declares, after
/// checking it against the buffer. `consumed` is the header size already read (6).
fn bounded<'a>(r: &mut Reader<'a>, pad_ok: bool, min: usize) -> Result<(Reader<'a>, usize)> {
    let declared = usize::from(r.u16()?);
    let have = r.remaining().saturating_add(6);
    if declared < min || declared > have {
        return Err(Error::LengthMismatch {
            field: "spdm.algorithms_length",
            declared,
            actual: have,
        });
    }
    let body = r.bytes(declared - 6)?;
    end(r, pad_ok)?;
    Ok((Reader::new(body), declared))
}

fn check_declared(r: &Reader<'_>, declared: usize) -> Result<()> {
    if r.remaining() != 0 {
        return Err(Error::LengthMismatch {
            field: "spdm.algorithms_length",
            declared,
            actual: declared.saturating_sub(r.remaining()),
        });
    }
    Ok(())
}

/// NEGOTIATE_ALGORITHMS request (DSP0274 1.3.0 §10.5, Table "NEGOTIATE_ALGORITHMS request
/// message format"). Param1 is the number of algorithm structures; Length (u16) covers
/// the whole message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateAlgorithms<'a> {
    /// MeasurementSpecification bits.
    pub measurement_specification: u8,
    /// OtherParamsSupport (opaque data format, 1.3 multi-key bit).
    pub other_params_support: u8,
    /// BaseAsymAlgo bits ([`asym`]).
    pub base_asym_algo: u32,
    /// BaseHashAlgo bits ([`hash`]).
    pub base_hash_algo: u32,
    /// MELspecification (1.3; 0 in 1.2).
    pub mel_specification: u8,
    /// ExtAsym entries, four bytes each.
    pub ext_asym: &'a [u8],
    /// ExtHash entries, four bytes each.
    pub ext_hash: &'a [u8],
    /// ReqAlgStruct table.
    pub alg_structs: AlgStructs<'a>,
}

impl<'a> NegotiateAlgorithms<'a> {
    /// Size of the fixed part (through MELspecification).
    pub const FIXED_LEN: usize = 32;

    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let (mut b, declared) = bounded(r, cx.pad_ok, Self::FIXED_LEN)?;
        let measurement_specification = b.u8()?;
        let other_params_support = b.u8()?;
        let base_asym_algo = b.u32()?;
        let base_hash_algo = b.u32()?;
        b.skip(12)?;
        let a = b.u8()?;
        let e = b.u8()?;
        b.skip(1)?;
        let mel = b.u8()?;
        let ext_asym = ext_list(&mut b, a)?;
        let ext_hash = ext_list(&mut b, e)?;
        let alg_structs = AlgStructs::decode(&mut b, h.param1)?;
        check_declared(&b, declared)?;
        Ok(Self {
            measurement_specification,
            other_params_support,
            base_asym_algo,
            base_hash_algo,
            mel_specification: if cx.v13() { mel } else { 0 },
            ext_asym,
            ext_hash,
            alg_structs,
        })
    }

    /// Encoded size in bytes.
    pub fn len(&self) -> usize {
        Self::FIXED_LEN
            .saturating_add(self.ext_asym.len())
            .saturating_add(self.ext_hash.len())
            .saturating_add(self.alg_structs.bytes.len())
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let a = ext_count("spdm.ext_asym", self.ext_asym)?;
        let e = ext_count("spdm.ext_hash", self.ext_hash)?;
        self.alg_structs.validate()?;
        let len = len_field("spdm.algorithms_length", self.len())?;
        put_header(
            w,
            neg,
            code::NEGOTIATE_ALGORITHMS,
            self.alg_structs.count,
            0,
        )?;
        w.u16(len)?;
        w.u8(self.measurement_specification)?;
        w.u8(self.other_params_support)?;
        w.u32(self.base_asym_algo)?;
        w.u32(self.base_hash_algo)?;
        w.zeros(12)?;
        w.u8(a)?;
        w.u8(e)?;
        w.u8(0)?;
        w.u8(if neg.version >= Version::V13 {
            self.mel_specification
        } else {
            0
        })?;
        w.bytes(self.ext_asym)?;
        w.bytes(self.ext_hash)?;
        w.bytes(self.alg_structs.bytes)
    }
}

/// ALGORITHMS response (DSP0274 1.3.0 §10.5, Table "Successful ALGORITHMS response
/// message format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms<'a> {
    /// MeasurementSpecificationSel.
    pub measurement_specification_sel: u8,
    /// OtherParamsSelection.
    pub other_params_selection: u8,
    /// MeasurementHashAlgo ([`meas_hash`]).
    pub measurement_hash_algo: u32,
    /// BaseAsymSel ([`asym`]).
    pub base_asym_sel: u32,
    /// BaseHashSel ([`hash`]).
    pub base_hash_sel: u32,
    /// MELspecificationSel (1.3; 0 in 1.2).
    pub mel_specification_sel: u8,
    /// ExtAsymSel entries, four bytes each.
    pub ext_asym_sel: &'a [u8],
    /// ExtHashSel entries, four bytes each.
    pub ext_hash_sel: &'a [u8],
    /// RespAlgStruct table.
    pub alg_structs: AlgStructs<'a>,
}

impl<'a> Algorithms<'a> {
    /// Size of the fixed part (through the reserved u16 after the counts).
    pub const FIXED_LEN: usize = 36;

    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let (mut b, declared) = bounded(r, cx.pad_ok, Self::FIXED_LEN)?;
        let measurement_specification_sel = b.u8()?;
        let other_params_selection = b.u8()?;
        let measurement_hash_algo = b.u32()?;
        let base_asym_sel = b.u32()?;
        let base_hash_sel = b.u32()?;
        b.skip(11)?;
        let mel = b.u8()?;
        let a = b.u8()?;
        let e = b.u8()?;
        b.skip(2)?;
        let ext_asym_sel = ext_list(&mut b, a)?;
        let ext_hash_sel = ext_list(&mut b, e)?;
        let alg_structs = AlgStructs::decode(&mut b, h.param1)?;
        check_declared(&b, declared)?;
        Ok(Self {
            measurement_specification_sel,
            other_params_selection,
            measurement_hash_algo,
            base_asym_sel,
            base_hash_sel,
            mel_specification_sel: if cx.v13() { mel } else { 0 },
            ext_asym_sel,
            ext_hash_sel,
            alg_structs,
        })
    }

    /// Encoded size in bytes.
    pub fn len(&self) -> usize {
        Self::FIXED_LEN
            .saturating_add(self.ext_asym_sel.len())
            .saturating_add(self.ext_hash_sel.len())
            .saturating_add(self.alg_structs.bytes.len())
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The selected DHE group bits (0 if none).
    pub fn dhe_sel(&self) -> u16 {
        self.alg_structs
            .find(AlgType::Dhe)
            .map_or(0, |s| s.supported)
    }

    /// The selected AEAD cipher suite bits (0 if none).
    pub fn aead_sel(&self) -> u16 {
        self.alg_structs
            .find(AlgType::AeadCipherSuite)
            .map_or(0, |s| s.supported)
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let a = ext_count("spdm.ext_asym_sel", self.ext_asym_sel)?;
        let e = ext_count("spdm.ext_hash_sel", self.ext_hash_sel)?;
        self.alg_structs.validate()?;
        let len = len_field("spdm.algorithms_length", self.len())?;
        put_header(w, neg, code::ALGORITHMS, self.alg_structs.count, 0)?;
        w.u16(len)?;
        w.u8(self.measurement_specification_sel)?;
        w.u8(self.other_params_selection)?;
        w.u32(self.measurement_hash_algo)?;
        w.u32(self.base_asym_sel)?;
        w.u32(self.base_hash_sel)?;
        w.zeros(11)?;
        w.u8(if neg.version >= Version::V13 {
            self.mel_specification_sel
        } else {
            0
        })?;
        w.u8(a)?;
        w.u8(e)?;
        w.zeros(2)?;
        w.bytes(self.ext_asym_sel)?;
        w.bytes(self.ext_hash_sel)?;
        w.bytes(self.alg_structs.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CapabilityFlags, Request, Response};
    use super::*;

    /// ALGORITHMS 1.2 (DSP0274 1.2.0 §10.5 Table 16): DMTF measurements, SHA-384
    /// measurement hash, ECDSA P-384, SHA-384, four AlgStructs: DHE secp384r1, AEAD
    /// AES-256-GCM, ReqBaseAsym P-384, KeySchedule SPDM. Length = 36 + 16 = 52.
    pub(crate) const ALGORITHMS_12: [u8; 52] = [
        0x12, 0x63, 0x04, 0x00, 52, 0, 0x01, 0x02, 0x04, 0, 0, 0, 0x80, 0, 0, 0, 0x02, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x20, 0x10, 0x00, 0x03, 0x20, 0x02,
        0x00, 0x04, 0x20, 0x80, 0x00, 0x05, 0x20, 0x01, 0x00,
    ];

    #[test]
    fn algorithms_golden_and_negotiated_sizes() {
        let neg = Negotiated::initial(Version::V12);
        let Response::Algorithms(a) = Response::decode(&ALGORITHMS_12, &neg).unwrap() else {
            panic!()
        };
        assert_eq!(a.base_hash_sel, hash::SHA_384);
        assert_eq!(a.dhe_sel(), dhe::SECP384R1);
        assert_eq!(a.aead_sel(), aead::AES_256_GCM);
        let clear = CapabilityFlags::HANDSHAKE_IN_THE_CLEAR;
        let n = Negotiated::from_algorithms(Version::V12, &a, clear, CapabilityFlags(0)).unwrap();
        assert_eq!(
            (
                n.hash_size,
                n.signature_size,
                n.dhe_size,
                n.req_signature_size
            ),
            (48, 96, 96, 96)
        );
        assert!(!n.handshake_in_the_clear);
        let mut out = [0u8; 52];
        let mut w = Writer::new(&mut out);
        a.encode(&mut w, &neg).unwrap();
        assert_eq!(w.finish(), 52);
        assert_eq!(out, ALGORITHMS_12);
    }

    #[test]
    fn algorithms_length_field_is_checked() {
        let neg = Negotiated::initial(Version::V12);
        let mut b = ALGORITHMS_12;
        b[4] = 51;
        assert!(Response::decode(&b, &neg).is_err());
        b[4] = 53;
        assert!(Response::decode(&b, &neg).is_err());
        let mut b = ALGORITHMS_12;
        b[2] = 3; // Param1 says three structs, four follow
        assert!(matches!(
            Response::decode(&b, &neg),
            Err(Error::LengthMismatch { .. })
        ));
        let mut b = ALGORITHMS_12;
        b[37] = 0x30; // fixed count 3
        assert!(matches!(
            Response::decode(&b, &neg),
            Err(Error::InvalidField { .. })
        ));
    }

    #[test]
    fn negotiate_algorithms_golden() {
        // DSP0274 1.2.0 §10.5 Table 15: Length 32 + 4 + 8 = 44, one ExtAsym entry,
        // two AlgStructs (DHE secp256r1|secp384r1, AEAD AES-128|AES-256).
        let b: [u8; 44] = [
            0x12, 0xe3, 0x02, 0x00, 44, 0, 0x01, 0x02, 0x90, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0x02, 0x20, 0x18, 0x00, 0x03,
            0x20, 0x03, 0x00,
        ];
        let neg = Negotiated::initial(Version::V12);
        let Request::NegotiateAlgorithms(m) = Request::decode(&b, &neg).unwrap() else {
            panic!()
        };
        assert_eq!(m.base_asym_algo, asym::ECDSA_P256 | asym::ECDSA_P384);
        assert_eq!(m.ext_asym, &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(m.alg_structs.iter().count(), 2);
        let mut out = [0u8; 44];
        m.encode(&mut Writer::new(&mut out), &neg).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn sizes() {
        assert_eq!(hash_size(hash::SHA_256 | hash::SHA_384), None);
        assert_eq!(signature_size(asym::ECDSA_P521), Some(132));
        assert_eq!(dhe_size(dhe::FFDHE_3072), Some(384));
        assert_eq!(aead_sizes(aead::AES_256_GCM), Some((32, 12, 16)));
        assert_eq!(measurement_hash_size(meas_hash::RAW_BIT_STREAM), Some(0));
    }
}
