// SPDX-License-Identifier: GPL-2.0

//! Property tests of the DOE, SPDM and secured-message codecs: every DOE, SPDM and secured-message
//! decoder is total (any bytes, any negotiated parameters: `Ok` or a typed error, never a
//! panic), and every SPDM message built from arbitrary field values round-trips through
//! encode and decode (strict and DOE-padded).

mod common;

use proptest::collection::vec;
use proptest::prelude::*;
use tsm_proto::codec::{Result, Writer};
use tsm_proto::doe::{self, DataObject, DiscoveryRequest, DiscoveryResponse};
use tsm_proto::secured::SecuredRecord;
use tsm_proto::spdm::auth::{DmtfValue, SignedMeasurementRequest};
use tsm_proto::spdm::*;

fn neg_strategy() -> impl Strategy<Value = Negotiated> {
    let size = prop::sample::select(vec![0usize, 4, 32, 48, 64, 96]);
    (
        any::<bool>(),
        size.clone(),
        size.clone(),
        size.clone(),
        size,
        any::<[bool; 3]>(),
    )
        .prop_map(|(v13, h, s, rs, d, f)| Negotiated {
            version: if v13 { Version::V13 } else { Version::V12 },
            hash_size: h,
            signature_size: s,
            req_signature_size: rs,
            dhe_size: d,
            measurement_summary_hash: f[0],
            handshake_in_the_clear: f[1],
            multi_key_conn: f[2],
        })
}

/// A session-capable parameter set (non-zero sizes).
fn session_neg() -> impl Strategy<Value = Negotiated> {
    neg_strategy().prop_filter("sizes", |n| {
        n.hash_size > 0 && n.signature_size > 0 && n.dhe_size > 0 && n.req_signature_size > 0
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn fill(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn ctx(neg: &Negotiated, c: [u8; 8]) -> Option<[u8; 8]> {
    (neg.version == Version::V13).then_some(c)
}

/// What `encode` writes, and the same bytes zero-padded to a dword as DOE carries them.
fn encoded_and_padded(encode: impl FnOnce(&mut Writer<'_>) -> Result<()>) -> (Vec<u8>, Vec<u8>) {
    let b = common::encoded(1 << 17, encode);
    let mut padded = b.clone();
    padded.resize(doe::padded_len(b.len()), 0);
    (b, padded)
}

fn check_req(m: Request<'_>, neg: &Negotiated) {
    let (b, padded) = encoded_and_padded(|w| m.encode(w, neg));
    assert_eq!(Request::decode(&b, neg), Ok(m));
    assert_eq!(Request::decode_padded(&padded, neg), Ok(m));
}

fn check_rsp(m: Response<'_>, neg: &Negotiated) {
    let (b, padded) = encoded_and_padded(|w| m.encode(w, neg));
    assert_eq!(Response::decode(&b, neg), Ok(m));
    let vendor_error = matches!(
        m,
        Response::Error(ErrorResponse {
            extended: ExtendedError::Vendor(_),
            ..
        })
    );
    if !vendor_error {
        assert_eq!(Response::decode_padded(&padded, neg), Ok(m));
    }
}

/// AlgStruct tables as raw bytes: (type 2..=5, supported, external count 0..=2).
fn alg_structs() -> impl Strategy<Value = (u8, Vec<u8>)> {
    vec((2u8..=5, any::<u16>(), 0usize..=2), 0..=4).prop_map(|list| {
        let mut out = Vec::new();
        for (t, s, e) in &list {
            out.push(*t);
            out.push(0x20 | *e as u8);
            out.extend_from_slice(&s.to_le_bytes());
            out.extend(fill(4 * e, *t));
        }
        (list.len() as u8, out)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn spdm_decoders_never_panic(neg in neg_strategy(), data in bytes(300)) {
        let _ = Request::decode(&data, &neg);
        let _ = Request::decode_padded(&data, &neg);
        let _ = Response::decode(&data, &neg);
        let _ = Response::decode_padded(&data, &neg);
    }

    #[test]
    fn spdm_decoders_never_panic_past_the_header(
        neg in neg_strategy(),
        code in any::<u8>(),
        p in any::<[u8; 2]>(),
        data in bytes(400),
    ) {
        let mut b = vec![neg.version.byte(), code, p[0], p[1]];
        b.extend_from_slice(&data);
        let _ = Request::decode(&b, &neg);
        let _ = Request::decode_padded(&b, &neg);
        let _ = Response::decode(&b, &neg);
        let _ = Response::decode_padded(&b, &neg);
        b[0] = 0x10;
        let _ = Request::decode(&b, &neg);
        let _ = Response::decode(&b, &neg);
    }

    #[test]
    fn doe_decoders_never_panic(data in bytes(64), len in any::<u32>()) {
        let _ = DataObject::decode(&data);
        let _ = doe::unwrap_spdm(&data);
        let _ = DiscoveryRequest::decode(&data);
        let _ = DiscoveryResponse::decode(&data);
        let mut b = vec![0x01, 0x00, 0x01, 0x00];
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&data);
        let _ = DataObject::decode(&b);
        let _ = doe::unwrap_spdm(&b);
    }

    #[test]
    fn secured_split_never_panics(data in bytes(128), len in any::<u16>()) {
        let _ = SecuredRecord::split(&data);
        let _ = SecuredRecord::split_padded(&data);
        let mut b = vec![1, 2, 3, 4];
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&data);
        if let Ok(r) = SecuredRecord::split_padded(&b) {
            prop_assert_eq!(r.header, &b[..6]);
        }
    }

    #[test]
    fn doe_round_trip(vendor in any::<u16>(), t in any::<u8>(), payload in bytes(64)) {
        let obj = DataObject { vendor_id: vendor, object_type: t, payload: &payload };
        let buf = common::encoded(obj.encoded_len(), |w| obj.encode(w));
        let back = DataObject::decode(&buf).unwrap();
        prop_assert_eq!(back.vendor_id, vendor);
        prop_assert_eq!(back.object_type, t);
        prop_assert_eq!(&back.payload[..payload.len()], &payload[..]);
        prop_assert!(back.payload[payload.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn version_and_capabilities_round_trip(
        neg in neg_strategy(),
        entries in vec(any::<u16>(), 0..8),
        p1 in any::<u8>(),
        ct in any::<u8>(),
        flags in any::<u32>(),
        dts in 42u32..100_000,
        extra in 0u32..100_000,
        algs in bytes(40),
        block in any::<bool>(),
    ) {
        let e: Vec<u8> = entries.iter().flat_map(|v| v.to_le_bytes()).collect();
        check_rsp(Response::Version(VersionResponse { entries: &e }), &neg);
        check_req(Request::GetVersion, &neg);
        let v13 = neg.version == Version::V13;
        let mut blk = vec![0u8; 30];
        blk.extend_from_slice(&algs);
        let n = blk.len() as u16;
        blk[2..4].copy_from_slice(&n.to_le_bytes());
        check_req(Request::GetCapabilities(GetCapabilities {
            param1: if v13 { p1 } else { 0 },
            ct_exponent: ct,
            flags: CapabilityFlags(flags),
            data_transfer_size: dts,
            max_spdm_msg_size: dts + extra,
        }), &neg);
        check_rsp(Response::Capabilities(Capabilities {
            ct_exponent: ct,
            flags: CapabilityFlags(flags),
            data_transfer_size: dts,
            max_spdm_msg_size: dts + extra,
            supported_algorithms: if v13 && block { &blk } else { &[] },
        }), &neg);
    }

    #[test]
    fn algorithms_round_trip(
        neg in neg_strategy(),
        f in any::<[u32; 3]>(),
        b in any::<[u8; 3]>(),
        na in 0usize..3,
        nh in 0usize..3,
        (count, structs) in alg_structs(),
    ) {
        let v13 = neg.version == Version::V13;
        let ea = fill(4 * na, 1);
        let eh = fill(4 * nh, 2);
        let table = AlgStructs { count, bytes: &structs };
        check_req(Request::NegotiateAlgorithms(NegotiateAlgorithms {
            measurement_specification: b[0],
            other_params_support: b[1],
            base_asym_algo: f[0],
            base_hash_algo: f[1],
            mel_specification: if v13 { b[2] } else { 0 },
            ext_asym: &ea,
            ext_hash: &eh,
            alg_structs: table,
        }), &neg);
        check_rsp(Response::Algorithms(Algorithms {
            measurement_specification_sel: b[0],
            other_params_selection: b[1],
            measurement_hash_algo: f[2],
            base_asym_sel: f[0],
            base_hash_sel: f[1],
            mel_specification_sel: if v13 { b[2] } else { 0 },
            ext_asym_sel: &ea,
            ext_hash_sel: &eh,
            alg_structs: table,
        }), &neg);
    }

    #[test]
    fn certificate_family_round_trip(
        neg in neg_strategy(),
        slot in 0u8..8,
        attrs in any::<u8>(),
        mask in any::<[u8; 2]>(),
        off in any::<[u16; 3]>(),
        portion in bytes(100),
    ) {
        let v13 = neg.version == Version::V13;
        check_req(Request::GetDigests, &neg);
        let n = mask[1].count_ones() as usize;
        let multi = v13 && neg.multi_key_conn;
        let d = fill(n * neg.hash_size, 3);
        let k = if multi { fill(n, 4) } else { vec![] };
        let c = if multi { fill(n, 5) } else { vec![] };
        let u = if multi { fill(2 * n, 6) } else { vec![] };
        check_rsp(Response::Digests(Digests {
            supported_slot_mask: if v13 { mask[0] } else { 0 },
            slot_mask: mask[1],
            digests: &d,
            key_pair_ids: &k,
            cert_infos: &c,
            key_usage_masks: &u,
        }), &neg);
        check_req(Request::GetCertificate(GetCertificate {
            slot_id: slot,
            attributes: if v13 { attrs } else { 0 },
            offset: off[0],
            length: off[1],
        }), &neg);
        check_rsp(Response::Certificate(CertificateResponse {
            slot_id: slot,
            attributes: if v13 { attrs } else { 0 },
            remainder_length: off[2],
            portion: &portion,
        }), &neg);
    }

    #[test]
    fn challenge_round_trip(
        neg in neg_strategy(),
        slot in prop::sample::select(vec![0u8, 1, 7, 0xff]),
        t in prop::sample::select(vec![0u8, 1, 0xff]),
        nonce in any::<[u8; 32]>(),
        c in any::<[u8; 8]>(),
        p in any::<[u8; 2]>(),
        opaque in bytes(40),
    ) {
        check_req(Request::Challenge(Challenge {
            slot_id: slot,
            summary_hash_type: t,
            nonce,
            requester_context: ctx(&neg, c),
        }), &neg);
        let h = fill(neg.hash_size, 7);
        let m = fill(neg.summary_hash_len(), 8);
        let s = fill(neg.signature_size, 9);
        check_rsp(Response::ChallengeAuth(ChallengeAuth {
            attributes: p[0],
            slot_mask: p[1],
            cert_chain_hash: &h,
            nonce,
            measurement_summary_hash: &m,
            opaque: &opaque,
            requester_context: ctx(&neg, c),
            signature: &s,
        }), &neg);
    }

    #[test]
    fn measurements_round_trip(
        neg in neg_strategy(),
        attrs in any::<u8>(),
        op in any::<u8>(),
        nonce in any::<[u8; 32]>(),
        slot in 0u8..8,
        c in any::<[u8; 8]>(),
        p in any::<[u8; 2]>(),
        blocks in vec((any::<u8>(), any::<bool>(), any::<u8>(), bytes(20)), 0..5),
        opaque in bytes(30),
        signed in any::<bool>(),
    ) {
        let signed_req = (attrs & 1 != 0).then_some(SignedMeasurementRequest { nonce, slot_id: slot });
        check_req(Request::GetMeasurements(GetMeasurements {
            attributes: attrs,
            operation: op,
            signed: signed_req,
            requester_context: ctx(&neg, c),
        }), &neg);
        let mut record = Vec::new();
        for (index, dmtf, t, value) in &blocks {
            let mut m = vec![0u8; 3 + value.len()];
            if *dmtf {
                let mut w = Writer::new(&mut m);
                let v = DmtfValue { value_type: t & 0x7f, raw_bit_stream: t & 0x80 != 0, value };
                MeasurementBlock::encode_dmtf_value(&mut w, &v).unwrap();
            } else {
                m = value.clone();
            }
            let blk = MeasurementBlock { index: *index, spec: u8::from(*dmtf), measurement: &m, dmtf: None };
            let mut b = vec![0u8; 4 + m.len()];
            blk.encode(&mut Writer::new(&mut b)).unwrap();
            record.extend_from_slice(&b);
        }
        let sig = fill(neg.signature_size, 0x33);
        check_rsp(Response::Measurements(Measurements {
            param1: p[0],
            param2: p[1],
            record: MeasurementRecord { count: blocks.len() as u8, bytes: &record },
            nonce,
            opaque: &opaque,
            requester_context: ctx(&neg, c),
            signature: (signed && neg.signature_size > 0).then_some(&sig[..]),
        }), &neg);
    }

    #[test]
    fn key_exchange_round_trip(
        neg in session_neg(),
        t in prop::sample::select(vec![0u8, 1, 0xff]),
        p in any::<[u8; 4]>(),
        ids in any::<[u16; 2]>(),
        random in any::<[u8; 32]>(),
        opaque in bytes(40),
        sign in any::<bool>(),
    ) {
        let d = fill(neg.dhe_size, 1);
        check_req(Request::KeyExchange(KeyExchange {
            summary_hash_type: t,
            slot_id: if p[0] < 8 { p[0] } else { 0xff },
            req_session_id: ids[0],
            session_policy: p[1],
            random,
            exchange_data: &d,
            opaque: &opaque,
        }), &neg);
        let m = fill(neg.summary_hash_len(), 2);
        let s = fill(neg.signature_size, 3);
        let v = fill(if neg.handshake_in_the_clear { 0 } else { neg.hash_size }, 4);
        let rsp = KeyExchangeRsp {
            heartbeat_period: p[2],
            rsp_session_id: ids[1],
            mut_auth_requested: p[3],
            req_slot_id_param: p[0],
            random,
            exchange_data: &d,
            measurement_summary_hash: &m,
            opaque: &opaque,
            signature: &s,
            verify_data: &v,
        };
        check_rsp(Response::KeyExchangeRsp(rsp), &neg);
        let rs = fill(neg.req_signature_size, 5);
        let h = fill(neg.hash_size, 6);
        check_req(Request::Finish(Finish {
            req_slot_id: p[1],
            signature: sign.then_some(&rs[..]),
            verify_data: &h,
        }), &neg);
        let fv = if neg.handshake_in_the_clear { h.clone() } else { vec![] };
        check_rsp(Response::FinishRsp(FinishRsp { verify_data: &fv }), &neg);
    }

    #[test]
    fn psk_round_trip(
        neg in session_neg(),
        t in prop::sample::select(vec![0u8, 1, 0xff]),
        p in any::<[u8; 2]>(),
        ids in any::<[u16; 2]>(),
        hint in bytes(20),
        rctx in bytes(40),
        opaque in bytes(40),
    ) {
        check_req(Request::PskExchange(PskExchange {
            summary_hash_type: t,
            session_policy: p[0],
            req_session_id: ids[0],
            psk_hint: &hint,
            requester_context: &rctx,
            opaque: &opaque,
        }), &neg);
        let m = fill(neg.summary_hash_len(), 2);
        let h = fill(neg.hash_size, 3);
        check_rsp(Response::PskExchangeRsp(PskExchangeRsp {
            heartbeat_period: p[1],
            rsp_session_id: ids[1],
            measurement_summary_hash: &m,
            responder_context: &rctx,
            opaque: &opaque,
            verify_data: &h,
        }), &neg);
        check_req(Request::PskFinish(PskFinish { verify_data: &h }), &neg);
        check_rsp(Response::PskFinishRsp, &neg);
    }

    #[test]
    fn session_control_round_trip(
        neg in neg_strategy(),
        op in prop::sample::select(vec![KeyUpdateOp::UpdateKey, KeyUpdateOp::UpdateAllKeys, KeyUpdateOp::VerifyNewKey]),
        p in any::<[u8; 3]>(),
    ) {
        let ku = KeyUpdate { op, tag: p[0] };
        check_req(Request::KeyUpdate(ku), &neg);
        check_rsp(Response::KeyUpdateAck(ku), &neg);
        check_req(Request::Heartbeat, &neg);
        check_rsp(Response::HeartbeatAck, &neg);
        check_req(Request::EndSession(EndSession { attributes: p[1] }), &neg);
        check_rsp(Response::EndSessionAck, &neg);
        check_req(Request::RespondIfReady(RespondIfReady { request_code: p[1], token: p[2] }), &neg);
    }

    #[test]
    fn vendor_and_error_round_trip(
        neg in neg_strategy(),
        std_id in any::<u16>(),
        vid in bytes(8),
        payload in bytes(200),
        code in prop::sample::select(ErrorCode::ALL.to_vec()),
        data in any::<u8>(),
        ext in any::<[u8; 4]>(),
        vext in bytes(32),
    ) {
        let vd = VendorDefined { standard_id: std_id, vendor_id: &vid, payload: &payload };
        check_req(Request::VendorDefined(vd), &neg);
        check_rsp(Response::VendorDefined(vd), &neg);
        let extended = match code {
            ErrorCode::ResponseNotReady => ExtendedError::ResponseNotReady {
                rdt_exponent: ext[0], request_code: ext[1], token: ext[2], rdtm: ext[3],
            },
            ErrorCode::LargeResponse => ExtendedError::LargeResponse { handle: ext[0] },
            ErrorCode::ResponseTooLarge => ExtendedError::ResponseTooLarge { size: u32::from_le_bytes(ext) },
            ErrorCode::VendorDefined => ExtendedError::Vendor(&vext),
            _ => ExtendedError::None,
        };
        check_rsp(Response::Error(ErrorResponse { code, data, extended }), &neg);
    }
}
