// SPDX-License-Identifier: GPL-2.0

//! Session messages: KEY_EXCHANGE/KEY_EXCHANGE_RSP (DSP0274 1.3.0 §10.14),
//! FINISH/FINISH_RSP (§10.15), PSK_EXCHANGE/PSK_EXCHANGE_RSP (§10.16),
//! PSK_FINISH/PSK_FINISH_RSP (§10.17), KEY_UPDATE/KEY_UPDATE_ACK (§10.19) and
//! END_SESSION (§10.21). HEARTBEAT/HEARTBEAT_ACK (§10.18) are header-only and live in
//! the message enums directly.

use super::super::codec::{len_field, Error, Reader, Result, Writer};
use super::auth::{check_opaque_len, check_slot, check_summary_type, put_opaque, read_opaque};
use super::{
    code, fixed, put_fixed, put_header, put_summary_hash, Ctx, Header, Negotiated, NONCE_LEN,
};

/// KEY_EXCHANGE request (DSP0274 1.3.0 §10.14, Table "KEY_EXCHANGE request message
/// format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyExchange<'a> {
    /// Param1: MeasurementSummaryHashType.
    pub summary_hash_type: u8,
    /// Param2: SlotID (0..=7, or 0xFF for the provisioned public key).
    pub slot_id: u8,
    /// ReqSessionID: the requester's half of the session ID.
    pub req_session_id: u16,
    /// SessionPolicy (bit 0 TerminationPolicy, 1.3 bit 1 EventAllPolicy).
    pub session_policy: u8,
    /// RandomData.
    pub random: [u8; NONCE_LEN],
    /// ExchangeData, `D` bytes.
    pub exchange_data: &'a [u8],
    /// OpaqueData.
    pub opaque: &'a [u8],
}

impl<'a> KeyExchange<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        check_summary_type(h.param1)?;
        check_slot(h.param2, true)?;
        let req_session_id = r.u16()?;
        let session_policy = r.u8()?;
        r.skip(1)?;
        Ok(Self {
            summary_hash_type: h.param1,
            slot_id: h.param2,
            req_session_id,
            session_policy,
            random: r.array()?,
            exchange_data: fixed(r, cx.neg.dhe_size)?,
            opaque: read_opaque(r)?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_summary_type(self.summary_hash_type)?;
        check_slot(self.slot_id, true)?;
        put_header(
            w,
            neg,
            code::KEY_EXCHANGE,
            self.summary_hash_type,
            self.slot_id,
        )?;
        w.u16(self.req_session_id)?;
        w.u8(self.session_policy)?;
        w.u8(0)?;
        w.bytes(&self.random)?;
        put_fixed(w, "spdm.exchange_data", self.exchange_data, neg.dhe_size)?;
        put_opaque(w, self.opaque)
    }
}

/// KEY_EXCHANGE_RSP response (DSP0274 1.3.0 §10.14, Table "Successful KEY_EXCHANGE_RSP
/// response message format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyExchangeRsp<'a> {
    /// Param1: HeartbeatPeriod in seconds (0 disables).
    pub heartbeat_period: u8,
    /// RspSessionID: the responder's half of the session ID.
    pub rsp_session_id: u16,
    /// MutAuthRequested bits.
    pub mut_auth_requested: u8,
    /// ReqSlotIDParam (bits 3:0).
    pub req_slot_id_param: u8,
    /// RandomData.
    pub random: [u8; NONCE_LEN],
    /// ExchangeData, `D` bytes.
    pub exchange_data: &'a [u8],
    /// MeasurementSummaryHash, `H` bytes if requested, else empty.
    pub measurement_summary_hash: &'a [u8],
    /// OpaqueData.
    pub opaque: &'a [u8],
    /// Signature, `S` bytes.
    pub signature: &'a [u8],
    /// ResponderVerifyData, `H` bytes; empty when the handshake is in the clear.
    pub verify_data: &'a [u8],
}

impl<'a> KeyExchangeRsp<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let n = cx.neg;
        let rsp_session_id = r.u16()?;
        let mut_auth_requested = r.u8()?;
        let req_slot_id_param = r.u8()?;
        Ok(Self {
            heartbeat_period: h.param1,
            rsp_session_id,
            mut_auth_requested,
            req_slot_id_param,
            random: r.array()?,
            exchange_data: fixed(r, n.dhe_size)?,
            measurement_summary_hash: fixed(r, n.summary_hash_len())?,
            opaque: read_opaque(r)?,
            signature: fixed(r, n.signature_size)?,
            verify_data: fixed(r, verify_len(n))?,
        })
    }

    /// Offset of Signature in the encoded message.
    pub fn signature_offset(&self) -> usize {
        (4 + 4 + NONCE_LEN + 2)
            .saturating_add(self.exchange_data.len())
            .saturating_add(self.measurement_summary_hash.len())
            .saturating_add(self.opaque.len())
    }

    /// Offset of ResponderVerifyData in the encoded message.
    pub fn verify_data_offset(&self) -> usize {
        self.signature_offset().saturating_add(self.signature.len())
    }

    /// Encoded length.
    pub fn len(&self) -> usize {
        self.verify_data_offset()
            .saturating_add(self.verify_data.len())
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        put_header(w, neg, code::KEY_EXCHANGE_RSP, self.heartbeat_period, 0)?;
        w.u16(self.rsp_session_id)?;
        w.u8(self.mut_auth_requested)?;
        w.u8(self.req_slot_id_param)?;
        w.bytes(&self.random)?;
        put_fixed(w, "spdm.exchange_data", self.exchange_data, neg.dhe_size)?;
        put_summary_hash(w, neg, self.measurement_summary_hash)?;
        put_opaque(w, self.opaque)?;
        put_fixed(w, "spdm.signature", self.signature, neg.signature_size)?;
        put_fixed(w, "spdm.verify_data", self.verify_data, verify_len(neg))
    }
}

/// ResponderVerifyData length of KEY_EXCHANGE_RSP: `H`, or 0 in the clear.
const fn verify_len(n: &Negotiated) -> usize {
    if n.handshake_in_the_clear {
        0
    } else {
        n.hash_size
    }
}

/// FINISH Param1 bit 0: a requester signature is included (mutual authentication).
pub const FINISH_SIGNATURE_INCLUDED: u8 = 1 << 0;

/// FINISH request (DSP0274 1.3.0 §10.15, Table "FINISH request message format"):
/// Signature (`ReqBaseAsymAlg` size, only with Param1 bit 0), RequesterVerifyData (`H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finish<'a> {
    /// Param2: ReqSlotID of the requester's certificate (when signing).
    pub req_slot_id: u8,
    /// Requester signature; `Some` exactly when Param1 bit 0 is set.
    pub signature: Option<&'a [u8]>,
    /// RequesterVerifyData (HMAC), `H` bytes.
    pub verify_data: &'a [u8],
}

impl<'a> Finish<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let signature = if h.param1 & FINISH_SIGNATURE_INCLUDED != 0 {
            Some(fixed(r, cx.neg.req_signature_size)?)
        } else {
            None
        };
        Ok(Self {
            req_slot_id: h.param2,
            signature,
            verify_data: fixed(r, cx.neg.hash_size)?,
        })
    }

    /// Offset of RequesterVerifyData in the encoded message.
    pub fn verify_data_offset(&self) -> usize {
        4usize.saturating_add(self.signature.map_or(0, <[u8]>::len))
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let p1 = if self.signature.is_some() {
            FINISH_SIGNATURE_INCLUDED
        } else {
            0
        };
        put_header(w, neg, code::FINISH, p1, self.req_slot_id)?;
        if let Some(sig) = self.signature {
            put_fixed(w, "spdm.req_signature", sig, neg.req_signature_size)?;
        }
        put_fixed(w, "spdm.verify_data", self.verify_data, neg.hash_size)
    }
}

/// FINISH_RSP response (DSP0274 1.3.0 §10.15): ResponderVerifyData (`H`) only when the
/// handshake is in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishRsp<'a> {
    /// ResponderVerifyData; empty unless the handshake is in the clear.
    pub verify_data: &'a [u8],
}

impl<'a> FinishRsp<'a> {
    pub(super) fn decode_body(_h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        Ok(Self {
            verify_data: fixed(r, finish_rsp_verify_len(cx.neg))?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        put_header(w, neg, code::FINISH_RSP, 0, 0)?;
        put_fixed(
            w,
            "spdm.verify_data",
            self.verify_data,
            finish_rsp_verify_len(neg),
        )
    }
}

const fn finish_rsp_verify_len(n: &Negotiated) -> usize {
    if n.handshake_in_the_clear {
        n.hash_size
    } else {
        0
    }
}

/// PSK_EXCHANGE request (DSP0274 1.3.0 §10.16, Table "PSK_EXCHANGE request message
/// format"): ReqSessionID, PSKHintLength, RequesterContextLength, OpaqueDataLength, then
/// the three fields. Codec only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PskExchange<'a> {
    /// Param1: MeasurementSummaryHashType.
    pub summary_hash_type: u8,
    /// Param2: SessionPolicy.
    pub session_policy: u8,
    /// ReqSessionID.
    pub req_session_id: u16,
    /// PSKHint.
    pub psk_hint: &'a [u8],
    /// RequesterContext.
    pub requester_context: &'a [u8],
    /// OpaqueData.
    pub opaque: &'a [u8],
}

impl<'a> PskExchange<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, _cx: Ctx<'_>) -> Result<Self> {
        check_summary_type(h.param1)?;
        let req_session_id = r.u16()?;
        let p = usize::from(r.u16()?);
        let q = usize::from(r.u16()?);
        let o = usize::from(r.u16()?);
        check_opaque_len(o)?;
        Ok(Self {
            summary_hash_type: h.param1,
            session_policy: h.param2,
            req_session_id,
            psk_hint: r.bytes(p)?,
            requester_context: r.bytes(q)?,
            opaque: r.bytes(o)?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_summary_type(self.summary_hash_type)?;
        check_opaque_len(self.opaque.len())?;
        let p = len_field("spdm.psk_hint_length", self.psk_hint.len())?;
        let q = len_field(
            "spdm.requester_context_length",
            self.requester_context.len(),
        )?;
        let o = len_field("spdm.opaque_length", self.opaque.len())?;
        put_header(
            w,
            neg,
            code::PSK_EXCHANGE,
            self.summary_hash_type,
            self.session_policy,
        )?;
        w.u16(self.req_session_id)?;
        w.u16(p)?;
        w.u16(q)?;
        w.u16(o)?;
        w.bytes(self.psk_hint)?;
        w.bytes(self.requester_context)?;
        w.bytes(self.opaque)
    }
}

/// PSK_EXCHANGE_RSP response (DSP0274 1.3.0 §10.16, Table "PSK_EXCHANGE_RSP response
/// message format"). Codec only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PskExchangeRsp<'a> {
    /// Param1: HeartbeatPeriod.
    pub heartbeat_period: u8,
    /// RspSessionID.
    pub rsp_session_id: u16,
    /// MeasurementSummaryHash, `H` bytes if requested, else empty.
    pub measurement_summary_hash: &'a [u8],
    /// ResponderContext.
    pub responder_context: &'a [u8],
    /// OpaqueData.
    pub opaque: &'a [u8],
    /// ResponderVerifyData, `H` bytes.
    pub verify_data: &'a [u8],
}

impl<'a> PskExchangeRsp<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        let rsp_session_id = r.u16()?;
        r.skip(2)?;
        let q = usize::from(r.u16()?);
        let o = usize::from(r.u16()?);
        check_opaque_len(o)?;
        Ok(Self {
            heartbeat_period: h.param1,
            rsp_session_id,
            measurement_summary_hash: fixed(r, cx.neg.summary_hash_len())?,
            responder_context: r.bytes(q)?,
            opaque: r.bytes(o)?,
            verify_data: fixed(r, cx.neg.hash_size)?,
        })
    }

    /// Offset of ResponderVerifyData in the encoded message.
    pub fn verify_data_offset(&self) -> usize {
        12usize
            .saturating_add(self.measurement_summary_hash.len())
            .saturating_add(self.responder_context.len())
            .saturating_add(self.opaque.len())
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        check_opaque_len(self.opaque.len())?;
        let q = len_field(
            "spdm.responder_context_length",
            self.responder_context.len(),
        )?;
        let o = len_field("spdm.opaque_length", self.opaque.len())?;
        put_header(w, neg, code::PSK_EXCHANGE_RSP, self.heartbeat_period, 0)?;
        w.u16(self.rsp_session_id)?;
        w.u16(0)?;
        w.u16(q)?;
        w.u16(o)?;
        put_summary_hash(w, neg, self.measurement_summary_hash)?;
        w.bytes(self.responder_context)?;
        w.bytes(self.opaque)?;
        put_fixed(w, "spdm.verify_data", self.verify_data, neg.hash_size)
    }
}

/// PSK_FINISH request (DSP0274 1.3.0 §10.17): RequesterVerifyData (`H`). Codec only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PskFinish<'a> {
    /// RequesterVerifyData.
    pub verify_data: &'a [u8],
}

impl<'a> PskFinish<'a> {
    pub(super) fn decode_body(_h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        Ok(Self {
            verify_data: fixed(r, cx.neg.hash_size)?,
        })
    }

    /// Encodes the whole message.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        put_header(w, neg, code::PSK_FINISH, 0, 0)?;
        put_fixed(w, "spdm.verify_data", self.verify_data, neg.hash_size)
    }
}

wire_enum! {
    /// KEY_UPDATE operation (DSP0274 1.3.0 §10.19, Table "KEY_UPDATE operations").
    pub enum KeyUpdateOp(u8, "spdm.key_update_op") decode from_byte encode byte {
        /// 1: UpdateKey, the requester's direction only.
        UpdateKey = 1,
        /// 2: UpdateAllKeys, both directions.
        UpdateAllKeys = 2,
        /// 3: VerifyNewKey.
        VerifyNewKey = 3,
    }
}

/// KEY_UPDATE request and KEY_UPDATE_ACK response (DSP0274 1.3.0 §10.19): Param1 the
/// operation, Param2 a tag echoed in the ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUpdate {
    /// KeyOperation.
    pub op: KeyUpdateOp,
    /// Tag.
    pub tag: u8,
}

impl KeyUpdate {
    pub(super) fn decode_params(h: &Header) -> Result<Self> {
        Ok(Self {
            op: KeyUpdateOp::from_byte(h.param1)?,
            tag: h.param2,
        })
    }
}

/// END_SESSION Param1 bit 0: clear the negotiated state (DSP0274 1.3.0 §10.21).
pub const END_SESSION_CLEAR_NEGOTIATED_STATE: u8 = 1 << 0;

/// END_SESSION request (DSP0274 1.3.0 §10.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndSession {
    /// Param1 EndSessionRequestAttributes.
    pub attributes: u8,
}

impl EndSession {
    pub(super) fn decode_params(h: &Header) -> Self {
        Self {
            attributes: h.param1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Request, Response, Version};
    use super::*;

    fn neg() -> Negotiated {
        Negotiated {
            hash_size: 4,
            signature_size: 6,
            req_signature_size: 5,
            dhe_size: 8,
            ..Negotiated::initial(Version::V12)
        }
    }

    #[test]
    fn key_update_golden() {
        // DSP0274 1.2.0 §10.19: UpdateAllKeys, tag 0x5a.
        let b = [0x12, 0xe9, 0x02, 0x5a];
        let m = Request::decode(&b, &neg()).unwrap();
        assert_eq!(
            m,
            Request::KeyUpdate(KeyUpdate {
                op: KeyUpdateOp::UpdateAllKeys,
                tag: 0x5a
            })
        );
        assert!(Request::decode(&[0x12, 0xe9, 0x04, 0], &neg()).is_err());
        assert!(matches!(
            Response::decode(&[0x12, 0x69, 0x03, 0x01], &neg()),
            Ok(Response::KeyUpdateAck(_))
        ));
    }

    #[test]
    fn finish_with_and_without_signature() {
        let b = [0x12, 0xe5, 0x01, 0x00, 1, 2, 3, 4, 5, 9, 9, 9, 9];
        let Request::Finish(f) = Request::decode(&b, &neg()).unwrap() else {
            panic!()
        };
        assert_eq!(f.signature, Some(&[1, 2, 3, 4, 5][..]));
        assert_eq!(f.verify_data_offset(), 9);
        let b = [0x12, 0xe5, 0x00, 0x00, 9, 9, 9, 9];
        assert!(Request::decode(&b, &neg()).is_ok());
        assert!(Request::decode(&b[..7], &neg()).is_err());
    }
}
