// SPDX-License-Identifier: GPL-2.0

//! Authentication and attestation messages: GET_DIGESTS/DIGESTS (DSP0274 1.3.0 §10.6),
//! GET_CERTIFICATE/CERTIFICATE (§10.7), CHALLENGE/CHALLENGE_AUTH (§10.8, §10.9) and
//! GET_MEASUREMENTS/MEASUREMENTS (§10.11) with the measurement block format (§10.11.1)
//! and the DMTF measurement value format (§10.11.1.1).

use super::super::codec::{len_field, Error, Reader, Result, Writer};
use super::{
    code, fixed, put_fixed, put_header, put_len16, put_summary_hash, Ctx, Header, Negotiated,
    Version, NONCE_LEN, REQUESTER_CONTEXT_LEN,
};

/// Largest OpaqueDataLength allowed (DSP0274 1.3.0: "shall not exceed 1024 bytes").
pub const MAX_OPAQUE_LEN: usize = 1024;
/// Number of certificate slots.
pub const SLOT_COUNT: u8 = 8;
/// Slot ID meaning "the pre-provisioned public key" in CHALLENGE and KEY_EXCHANGE.
pub const SLOT_PROVISIONED_KEY: u8 = 0xff;

/// Checks an OpaqueDataLength against the 1024-byte limit.
pub(super) fn check_opaque_len(n: usize) -> Result<()> {
    if n > MAX_OPAQUE_LEN {
        return Err(Error::InvalidField {
            field: "spdm.opaque_length",
            value: n as u64,
        });
    }
    Ok(())
}

/// Reads OpaqueDataLength + OpaqueData, enforcing the 1024-byte limit.
pub(super) fn read_opaque<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let n = usize::from(r.u16()?);
    check_opaque_len(n)?;
    r.bytes(n)
}

/// Writes OpaqueDataLength + OpaqueData, enforcing the 1024-byte limit.
pub(super) fn put_opaque(w: &mut Writer<'_>, data: &[u8]) -> Result<()> {
    check_opaque_len(data.len())?;
    put_len16(w, "spdm.opaque_length", data)
}

fn req_ctx(r: &mut Reader<'_>, cx: Ctx<'_>) -> Result<Option<[u8; REQUESTER_CONTEXT_LEN]>> {
    if cx.v13() {
        Ok(Some(r.array()?))
    } else {
        Ok(None)
    }
}

fn put_req_ctx(
    w: &mut Writer<'_>,
    neg: &Negotiated,
    ctx: &Option<[u8; REQUESTER_CONTEXT_LEN]>,
) -> Result<()> {
    match (neg.version >= Version::V13, ctx) {
        (true, Some(c)) => w.bytes(c),
        (false, None) => Ok(()),
        _ => Err(Error::InvalidField {
            field: "spdm.requester_context",
            value: u64::from(neg.version.byte()),
        }),
    }
}

/// Checks a SlotID: 0..=7, or with `allow_provisioned` also [`SLOT_PROVISIONED_KEY`].
pub(super) fn check_slot(slot: u8, allow_provisioned: bool) -> Result<()> {
    if slot < SLOT_COUNT || (allow_provisioned && slot == SLOT_PROVISIONED_KEY) {
        Ok(())
    } else {
        Err(Error::InvalidField {
            field: "spdm.slot_id",
            value: u64::from(slot),
        })
    }
}

/// DIGESTS response (DSP0274 1.3.0 §10.6, Table "Successful DIGESTS response message
/// format"): one digest of size `H` per bit set in Param2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests<'a> {
    /// Param1: SupportedSlotMask (1.3; 0 in 1.2).
    pub supported_slot_mask: u8,
    /// Param2: slots holding a certificate chain (1.3: ProvisionedSlotMask).
    pub slot_mask: u8,
    /// The digests, `H` bytes each, in slot order.
    pub digests: &'a [u8],
    /// 1.3 multi-key only: KeyPairID per digest (empty otherwise).
    pub key_pair_ids: &'a [u8],
    /// 1.3 multi-key only: CertificateInfo per digest.
    pub cert_infos: &'a [u8],
    /// 1.3 multi-key only: KeyUsageMask (u16) per digest, two bytes each.
    pub key_usage_masks: &'a [u8],
}

impl<'a> Digests<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let n = h.param2.count_ones() as usize;
        let digests = fixed(r, n.saturating_mul(cx.neg.hash_size))?;
        let multi = cx.v13() && cx.neg.multi_key_conn;
        let (key_pair_ids, cert_infos, key_usage_masks) = if multi {
            (r.bytes(n)?, r.bytes(n)?, r.bytes(n.saturating_mul(2))?)
        } else {
            (&[][..], &[][..], &[][..])
        };
        Ok(Self {
            supported_slot_mask: if cx.v13() { h.param1 } else { 0 },
            slot_mask: h.param2,
            digests,
            key_pair_ids,
            cert_infos,
            key_usage_masks,
        })
    }

    /// The digests, one per set slot.
    pub fn iter(&self, hash_size: usize) -> impl Iterator<Item = &'a [u8]> {
        self.digests.chunks(hash_size.max(1))
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let n = self.slot_mask.count_ones() as usize;
        let want = n.saturating_mul(neg.hash_size);
        if self.digests.len() != want {
            return Err(Error::LengthMismatch {
                field: "spdm.digests",
                declared: want,
                actual: self.digests.len(),
            });
        }
        let multi = neg.version >= Version::V13 && neg.multi_key_conn;
        let extra = [
            (self.key_pair_ids, n),
            (self.cert_infos, n),
            (self.key_usage_masks, n.saturating_mul(2)),
        ];
        for (data, len) in extra {
            let want = if multi { len } else { 0 };
            if data.len() != want {
                return Err(Error::LengthMismatch {
                    field: "spdm.digests_key_info",
                    declared: want,
                    actual: data.len(),
                });
            }
        }
        let p1 = if neg.version >= Version::V13 {
            self.supported_slot_mask
        } else {
            0
        };
        put_header(w, neg, code::DIGESTS, p1, self.slot_mask)?;
        w.bytes(self.digests)?;
        w.bytes(self.key_pair_ids)?;
        w.bytes(self.cert_infos)?;
        w.bytes(self.key_usage_masks)
    }
}

/// GET_CERTIFICATE request (DSP0274 1.3.0 §10.7, Table "GET_CERTIFICATE request message
/// format"): Param1 bits 3:0 SlotID, Offset u16, Length u16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetCertificate {
    /// Slot 0..=7.
    pub slot_id: u8,
    /// Param2 request attributes (1.3: bit 0 SlotSizeRequested; 0 in 1.2).
    pub attributes: u8,
    /// Offset into the certificate chain.
    pub offset: u16,
    /// Number of bytes asked for.
    pub length: u16,
}

impl GetCertificate {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'_>, cx: Ctx<'_>) -> Result<Self> {
        let slot_id = h.param1 & 0xf;
        check_slot(slot_id, false)?;
        Ok(Self {
            slot_id,
            attributes: if cx.v13() { h.param2 } else { 0 },
            offset: r.u16()?,
            length: r.u16()?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_slot(self.slot_id, false)?;
        let p2 = if neg.version >= Version::V13 {
            self.attributes
        } else {
            0
        };
        put_header(w, neg, code::GET_CERTIFICATE, self.slot_id, p2)?;
        w.u16(self.offset)?;
        w.u16(self.length)
    }
}

/// CERTIFICATE response (DSP0274 1.3.0 §10.7, Table "Successful CERTIFICATE response
/// message format"): PortionLength u16, RemainderLength u16, then the portion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateResponse<'a> {
    /// Slot the portion comes from.
    pub slot_id: u8,
    /// Param2 response attributes (1.3: bits 2:0 CertModel; 0 in 1.2).
    pub attributes: u8,
    /// Bytes of the chain still to fetch after this portion.
    pub remainder_length: u16,
    /// This portion of the certificate chain.
    pub portion: &'a [u8],
}

impl<'a> CertificateResponse<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let slot_id = h.param1 & 0xf;
        check_slot(slot_id, false)?;
        let portion_len = usize::from(r.u16()?);
        let remainder_length = r.u16()?;
        let portion = r.bytes(portion_len)?;
        Ok(Self {
            slot_id,
            attributes: if cx.v13() { h.param2 } else { 0 },
            remainder_length,
            portion,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_slot(self.slot_id, false)?;
        let p2 = if neg.version >= Version::V13 {
            self.attributes
        } else {
            0
        };
        let n = len_field("spdm.portion_length", self.portion.len())?;
        put_header(w, neg, code::CERTIFICATE, self.slot_id, p2)?;
        w.u16(n)?;
        w.u16(self.remainder_length)?;
        w.bytes(self.portion)
    }
}

/// MeasurementSummaryHashType values (DSP0274 1.3.0 §10.8, CHALLENGE Param2).
pub mod summary_hash {
    /// No measurement summary hash.
    pub const NONE: u8 = 0x00;
    /// TCB component measurements hash.
    pub const TCB: u8 = 0x01;
    /// Hash of all measurements.
    pub const ALL: u8 = 0xff;
}

/// Checks a MeasurementSummaryHashType against the [`summary_hash`] values.
pub(super) fn check_summary_type(t: u8) -> Result<()> {
    match t {
        summary_hash::NONE | summary_hash::TCB | summary_hash::ALL => Ok(()),
        v => Err(Error::InvalidField {
            field: "spdm.measurement_summary_hash_type",
            value: u64::from(v),
        }),
    }
}

/// CHALLENGE request (DSP0274 1.3.0 §10.8, Table "CHALLENGE request message format"):
/// Param1 SlotID, Param2 MeasurementSummaryHashType, Nonce, 1.3 RequesterContext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// Slot 0..=7, or 0xFF for the provisioned public key.
    pub slot_id: u8,
    /// [`summary_hash`] type requested.
    pub summary_hash_type: u8,
    /// Requester nonce.
    pub nonce: [u8; NONCE_LEN],
    /// RequesterContext: `Some` exactly in 1.3.
    pub requester_context: Option<[u8; REQUESTER_CONTEXT_LEN]>,
}

impl Challenge {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'_>, cx: Ctx<'_>) -> Result<Self> {
        check_slot(h.param1, true)?;
        check_summary_type(h.param2)?;
        Ok(Self {
            slot_id: h.param1,
            summary_hash_type: h.param2,
            nonce: r.array()?,
            requester_context: req_ctx(r, cx)?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_slot(self.slot_id, true)?;
        check_summary_type(self.summary_hash_type)?;
        put_header(
            w,
            neg,
            code::CHALLENGE,
            self.slot_id,
            self.summary_hash_type,
        )?;
        w.bytes(&self.nonce)?;
        put_req_ctx(w, neg, &self.requester_context)
    }
}

/// CHALLENGE_AUTH response (DSP0274 1.3.0 §10.9, Table "Successful CHALLENGE_AUTH
/// response message format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeAuth<'a> {
    /// Param1 response attributes; bits 3:0 are the slot ID.
    pub attributes: u8,
    /// Param2 SlotMask.
    pub slot_mask: u8,
    /// CertChainHash, `H` bytes.
    pub cert_chain_hash: &'a [u8],
    /// Responder nonce.
    pub nonce: [u8; NONCE_LEN],
    /// MeasurementSummaryHash, `H` bytes if requested, else empty.
    pub measurement_summary_hash: &'a [u8],
    /// OpaqueData.
    pub opaque: &'a [u8],
    /// RequesterContext echoed back: `Some` exactly in 1.3.
    pub requester_context: Option<[u8; REQUESTER_CONTEXT_LEN]>,
    /// Signature, `S` bytes.
    pub signature: &'a [u8],
}

impl<'a> ChallengeAuth<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let n = cx.neg;
        Ok(Self {
            attributes: h.param1,
            slot_mask: h.param2,
            cert_chain_hash: fixed(r, n.hash_size)?,
            nonce: r.array()?,
            measurement_summary_hash: fixed(r, n.summary_hash_len())?,
            opaque: read_opaque(r)?,
            requester_context: req_ctx(r, cx)?,
            signature: fixed(r, n.signature_size)?,
        })
    }

    /// Slot ID from the attributes.
    pub const fn slot_id(&self) -> u8 {
        self.attributes & 0xf
    }

    /// Offset of the Signature field in the encoded message.
    pub fn signature_offset(&self) -> usize {
        4usize
            .saturating_add(self.cert_chain_hash.len())
            .saturating_add(NONCE_LEN)
            .saturating_add(self.measurement_summary_hash.len())
            .saturating_add(2)
            .saturating_add(self.opaque.len())
            .saturating_add(if self.requester_context.is_some() {
                REQUESTER_CONTEXT_LEN
            } else {
                0
            })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        put_header(
            w,
            neg,
            code::CHALLENGE_AUTH,
            self.attributes,
            self.slot_mask,
        )?;
        put_fixed(
            w,
            "spdm.cert_chain_hash",
            self.cert_chain_hash,
            neg.hash_size,
        )?;
        w.bytes(&self.nonce)?;
        put_summary_hash(w, neg, self.measurement_summary_hash)?;
        put_opaque(w, self.opaque)?;
        put_req_ctx(w, neg, &self.requester_context)?;
        put_fixed(w, "spdm.signature", self.signature, neg.signature_size)
    }
}

/// GET_MEASUREMENTS request attribute bits (DSP0274 1.3.0 §10.11, Param1).
pub mod meas_attr {
    /// SignatureRequested.
    pub const SIGNATURE_REQUESTED: u8 = 1 << 0;
    /// RawBitStreamRequested.
    pub const RAW_BIT_STREAM_REQUESTED: u8 = 1 << 1;
    /// NewMeasurementRequested (1.3).
    pub const NEW_MEASUREMENT_REQUESTED: u8 = 1 << 2;
}

/// GET_MEASUREMENTS operation values (Param2).
pub mod meas_op {
    /// Return the total number of measurement indices.
    pub const TOTAL_NUMBER: u8 = 0x00;
    /// Return all measurement blocks.
    pub const ALL: u8 = 0xff;
}

/// Nonce and slot of a signed GET_MEASUREMENTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedMeasurementRequest {
    /// Requester nonce.
    pub nonce: [u8; NONCE_LEN],
    /// SlotIDParam bits 3:0: slot whose key signs.
    pub slot_id: u8,
}

/// GET_MEASUREMENTS request (DSP0274 1.3.0 §10.11, Table "GET_MEASUREMENTS request
/// message format"): Nonce and SlotIDParam only when a signature is requested; 1.3 adds
/// RequesterContext always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetMeasurements {
    /// Param1 attributes ([`meas_attr`]); bit 0 must match `signed`.
    pub attributes: u8,
    /// Param2 measurement operation ([`meas_op`] or an index).
    pub operation: u8,
    /// Present exactly when SignatureRequested is set.
    pub signed: Option<SignedMeasurementRequest>,
    /// RequesterContext: `Some` exactly in 1.3.
    pub requester_context: Option<[u8; REQUESTER_CONTEXT_LEN]>,
}

impl GetMeasurements {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'_>, cx: Ctx<'_>) -> Result<Self> {
        let signed = if h.param1 & meas_attr::SIGNATURE_REQUESTED != 0 {
            let nonce = r.array()?;
            let slot_id = r.u8()? & 0xf;
            check_slot(slot_id, false)?;
            Some(SignedMeasurementRequest { nonce, slot_id })
        } else {
            None
        };
        Ok(Self {
            attributes: h.param1,
            operation: h.param2,
            signed,
            requester_context: req_ctx(r, cx)?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let want_sig = self.attributes & meas_attr::SIGNATURE_REQUESTED != 0;
        if want_sig != self.signed.is_some() {
            return Err(Error::InvalidField {
                field: "spdm.measurement_attributes",
                value: u64::from(self.attributes),
            });
        }
        put_header(
            w,
            neg,
            code::GET_MEASUREMENTS,
            self.attributes,
            self.operation,
        )?;
        if let Some(s) = &self.signed {
            check_slot(s.slot_id, false)?;
            w.bytes(&s.nonce)?;
            w.u8(s.slot_id)?;
        }
        put_req_ctx(w, neg, &self.requester_context)
    }
}

/// A DMTF-format measurement value (DSP0274 1.3.0 §10.11.1.1, Table "DMTF measurement
/// specification format"): DMTFSpecMeasurementValueType, DMTFSpecMeasurementValueSize
/// (u16), DMTFSpecMeasurementValue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmtfValue<'a> {
    /// Bits 6:0: value type (0 immutable ROM, 1 mutable firmware, 2 hardware config,
    /// 3 firmware config, 4 freeform manifest, 5 device mode, 6 firmware version,
    /// 7 firmware security version, 8 hash-extended, 9 informational, 0xA structured
    /// manifest).
    pub value_type: u8,
    /// Bit 7 of the type byte: the value is a raw bit stream, not a digest.
    pub raw_bit_stream: bool,
    /// The value.
    pub value: &'a [u8],
}

/// One measurement block (DSP0274 1.3.0 §10.11.1, Table "Measurement block format"):
/// Index, MeasurementSpecification, MeasurementSize (u16), Measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurementBlock<'a> {
    /// Measurement index.
    pub index: u8,
    /// MeasurementSpecification bits (bit 0 DMTF).
    pub spec: u8,
    /// The raw measurement.
    pub measurement: &'a [u8],
    /// The measurement parsed as a DMTF value when `spec` has the DMTF bit.
    pub dmtf: Option<DmtfValue<'a>>,
}

impl<'a> MeasurementBlock<'a> {
    /// Decodes one block from `r`.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let index = r.u8()?;
        let spec = r.u8()?;
        let size = usize::from(r.u16()?);
        let measurement = r.bytes(size)?;
        let dmtf = if spec & super::algo::MEASUREMENT_SPEC_DMTF != 0 {
            let mut m = Reader::new(measurement);
            let t = m.u8()?;
            let n = usize::from(m.u16()?);
            let value = m.bytes(n)?;
            if !m.is_empty() {
                return Err(Error::LengthMismatch {
                    field: "spdm.dmtf_measurement_size",
                    declared: n,
                    actual: size.saturating_sub(3),
                });
            }
            Some(DmtfValue {
                value_type: t & 0x7f,
                raw_bit_stream: t & 0x80 != 0,
                value,
            })
        } else {
            None
        };
        Ok(Self {
            index,
            spec,
            measurement,
            dmtf,
        })
    }

    /// Encodes the block (the measurement bytes are written as stored).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.index)?;
        w.u8(self.spec)?;
        put_len16(w, "spdm.measurement_size", self.measurement)
    }

    /// Writes a DMTF-format measurement (type byte, u16 size, value) into `w`, for
    /// building a block's `measurement` bytes.
    pub fn encode_dmtf_value(w: &mut Writer<'_>, v: &DmtfValue<'_>) -> Result<()> {
        w.u8((v.value_type & 0x7f) | if v.raw_bit_stream { 0x80 } else { 0 })?;
        put_len16(w, "spdm.dmtf_measurement_size", v.value)
    }
}

/// The MeasurementRecord of MEASUREMENTS: NumberOfBlocks blocks back to back, validated
/// at decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurementRecord<'a> {
    /// NumberOfBlocks.
    pub count: u8,
    /// The concatenated blocks.
    pub bytes: &'a [u8],
}

impl<'a> MeasurementRecord<'a> {
    /// Checks that `bytes` is exactly `count` well-formed blocks.
    pub fn validate(&self) -> Result<()> {
        let mut r = Reader::new(self.bytes);
        for _ in 0..self.count {
            MeasurementBlock::decode(&mut r)?;
        }
        if r.remaining() != 0 {
            return Err(Error::LengthMismatch {
                field: "spdm.measurement_record_length",
                declared: self.bytes.len(),
                actual: r.position(),
            });
        }
        Ok(())
    }

    /// Iterates the blocks.
    pub fn iter(&self) -> impl Iterator<Item = Result<MeasurementBlock<'a>>> {
        let mut r = Reader::new(self.bytes);
        let mut left = self.count;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let b = MeasurementBlock::decode(&mut r);
            if b.is_err() {
                left = 0;
            }
            Some(b)
        })
    }
}

/// MEASUREMENTS response (DSP0274 1.3.0 §10.11, Table "Successful MEASUREMENTS response
/// message format").
///
/// Whether a signature follows is read from the length left after OpaqueData (and the
/// 1.3 RequesterContext): nothing, or exactly `S` bytes; callers check it against the
/// SignatureRequested bit they sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurements<'a> {
    /// Param1: number of indices when the operation was 0, else reserved (kept raw).
    pub param1: u8,
    /// Param2: bits 3:0 slot ID, bits 5:4 content changed.
    pub param2: u8,
    /// The measurement record.
    pub record: MeasurementRecord<'a>,
    /// Responder nonce.
    pub nonce: [u8; NONCE_LEN],
    /// OpaqueData.
    pub opaque: &'a [u8],
    /// RequesterContext echoed back: `Some` exactly in 1.3.
    pub requester_context: Option<[u8; REQUESTER_CONTEXT_LEN]>,
    /// Signature, `S` bytes, if one was requested.
    pub signature: Option<&'a [u8]>,
}

impl<'a> Measurements<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let count = r.u8()?;
        let len = r.u24()? as usize;
        let record = MeasurementRecord {
            count,
            bytes: r.bytes(len)?,
        };
        record.validate()?;
        let nonce = r.array()?;
        let opaque = read_opaque(r)?;
        let requester_context = req_ctx(r, cx)?;
        let s = cx.neg.signature_size;
        let left = r.remaining();
        let signature = if s > 0 && (left == s || (cx.pad_ok && left >= s)) {
            Some(r.bytes(s)?)
        } else {
            None
        };
        Ok(Self {
            param1: h.param1,
            param2: h.param2,
            record,
            nonce,
            opaque,
            requester_context,
            signature,
        })
    }

    /// Offset of the Signature field in the encoded message (the signed data ends here).
    pub fn signature_offset(&self) -> usize {
        (4 + 1 + 3 + NONCE_LEN + 2)
            .saturating_add(self.record.bytes.len())
            .saturating_add(self.opaque.len())
            .saturating_add(if self.requester_context.is_some() {
                REQUESTER_CONTEXT_LEN
            } else {
                0
            })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        self.record.validate()?;
        let len = u32::try_from(self.record.bytes.len()).unwrap_or(u32::MAX);
        put_header(w, neg, code::MEASUREMENTS, self.param1, self.param2)?;
        w.u8(self.record.count)?;
        w.u24(len)?;
        w.bytes(self.record.bytes)?;
        w.bytes(&self.nonce)?;
        put_opaque(w, self.opaque)?;
        put_req_ctx(w, neg, &self.requester_context)?;
        if let Some(sig) = self.signature {
            if neg.signature_size == 0 {
                return Err(Error::InvalidField {
                    field: "spdm.signature",
                    value: sig.len() as u64,
                });
            }
            put_fixed(w, "spdm.signature", sig, neg.signature_size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Request, Response};
    use super::*;

    fn neg(v: Version) -> Negotiated {
        Negotiated {
            hash_size: 32,
            signature_size: 64,
            ..Negotiated::initial(v)
        }
    }

    #[test]
    fn get_certificate_golden() {
        // DSP0274 1.2.0 §10.7: slot 1, offset 0x0100, length 0x0400.
        let b = [0x12, 0x82, 0x01, 0x00, 0x00, 0x01, 0x00, 0x04];
        let Request::GetCertificate(m) = Request::decode(&b, &neg(Version::V12)).unwrap() else {
            panic!()
        };
        assert_eq!((m.slot_id, m.offset, m.length), (1, 0x100, 0x400));
        assert!(Request::decode(&[0x12, 0x82, 0x08, 0, 0, 0, 0, 0], &neg(Version::V12)).is_err());
    }

    #[test]
    fn measurements_with_dmtf_block_and_signature() {
        // DSP0274 1.3.0 §10.11: one block, index 1, DMTF spec, measurement = type 0x01
        // (mutable firmware digest), size 4; nonce; no opaque; ctx; 64-byte signature.
        let mut b = [0u8; 4 + 1 + 3 + 11 + 32 + 2 + 8 + 64];
        b[..8].copy_from_slice(&[0x13, 0x60, 0, 0x02, 1, 11, 0, 0]);
        b[8..19].copy_from_slice(&[1, 1, 7, 0, 0x01, 4, 0, 0xde, 0xad, 0xbe, 0xef]);
        let n = neg(Version::V13);
        let Response::Measurements(m) = Response::decode(&b, &n).unwrap() else {
            panic!()
        };
        let blk = m.record.iter().next().unwrap().unwrap();
        assert_eq!(blk.dmtf.unwrap().value, &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(m.signature.map(<[u8]>::len), Some(64));
        assert_eq!(m.signature_offset(), b.len() - 64);
        // Without the signature it still decodes; with a partial signature it does not.
        assert!(Response::decode(&b[..b.len() - 64], &n)
            .is_ok_and(|r| matches!(r, Response::Measurements(m) if m.signature.is_none())));
        assert!(Response::decode(&b[..b.len() - 1], &n).is_err());
    }
}
