// SPDX-License-Identifier: GPL-2.0

//! Golden vectors for every SPDM message family, written by hand from the DSP0274 1.2.0 /
//! 1.3.0 message tables, plus the negative rules every vector must obey: each proper
//! prefix fails, a wrong version fails, padding is only accepted by `decode_padded`.

mod common;

use tsm_proto::codec::{Error, Writer};
use tsm_proto::spdm::{
    self, CapabilityFlags, ErrorCode, ExtendedError, Negotiated, Request, Response, Version,
};

/// Session parameters: SHA-384 (H = 48), ECDSA P-384 (S = 96), secp384r1 (D = 96).
fn neg12() -> Negotiated {
    Negotiated {
        hash_size: 48,
        signature_size: 96,
        req_signature_size: 96,
        dhe_size: 96,
        ..Negotiated::initial(Version::V12)
    }
}

fn neg13() -> Negotiated {
    Negotiated {
        version: Version::V13,
        ..neg12()
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Req,
    Rsp,
}

struct Vector {
    name: &'static str,
    dir: Dir,
    neg: Negotiated,
    bytes: Vec<u8>,
    /// Whether a proper prefix may legitimately decode (trailing raw fields).
    prefix_may_decode: bool,
}

fn v(name: &'static str, dir: Dir, neg: Negotiated, bytes: Vec<u8>) -> Vector {
    Vector {
        name,
        dir,
        neg,
        bytes,
        prefix_may_decode: false,
    }
}

const N32: [u8; 32] = [0x4e; 32];
const R32: [u8; 32] = [0x52; 32];
const CTX: [u8; 8] = [0xc7; 8];
const H48: [u8; 48] = [0x48; 48];
const S96: [u8; 96] = [0x53; 96];
const D96: [u8; 96] = [0xd4; 96];

fn vectors() -> Vec<Vector> {
    use Dir::*;
    let n = neg12();
    let n13 = neg13();
    let mut out = vec![
        // §10.3 Table "GET_VERSION request message format".
        v("GET_VERSION", Req, n, vec![0x10, 0x84, 0x00, 0x00]),
        // §10.3 Table "Successful VERSION response": entries 1.2 and 1.3.
        v(
            "VERSION",
            Rsp,
            n,
            vec![0x10, 0x04, 0, 0, 0, 2, 0x00, 0x12, 0x00, 0x13],
        ),
        // §10.4 Table "GET_CAPABILITIES request": CTExponent 14, CERT|CHAL|ENCRYPT|MAC|
        // KEY_EX|HBEAT|KEY_UPD, DataTransferSize 4096, MaxSPDMmsgSize 8192.
        v(
            "GET_CAPABILITIES",
            Req,
            n,
            vec![
                0x12, 0xe1, 0, 0, 0, 14, 0, 0, 0xc6, 0x62, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0,
            ],
        ),
        // §10.4 Table "Successful CAPABILITIES response": CERT|CHAL|MEAS_SIG|ENCRYPT|MAC|
        // KEY_EX|HBEAT|KEY_UPD.
        v(
            "CAPABILITIES",
            Rsp,
            n,
            vec![
                0x12, 0x61, 0, 0, 0, 20, 0, 0, 0xd6, 0x62, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0,
            ],
        ),
        // §10.5 Table "NEGOTIATE_ALGORITHMS request": DMTF, OpaqueDataFmt1, P-256|P-384,
        // SHA-256|SHA-384, AlgStructs DHE, AEAD, ReqBaseAsym, KeySchedule.
        v(
            "NEGOTIATE_ALGORITHMS",
            Req,
            n,
            cat(&[
                &[0x12, 0xe3, 4, 0, 48, 0, 0x01, 0x02],
                &[0x90, 0, 0, 0, 0x03, 0, 0, 0],
                &[0; 12],
                &[0, 0, 0, 0],
                &[0x02, 0x20, 0x18, 0x00, 0x03, 0x20, 0x03, 0x00],
                &[0x04, 0x20, 0x90, 0x00, 0x05, 0x20, 0x01, 0x00],
            ]),
        ),
        // §10.5 Table "Successful ALGORITHMS response": SHA-384 measurements, P-384,
        // SHA-384, secp384r1, AES-256-GCM, P-384 requester, SPDM key schedule.
        v(
            "ALGORITHMS",
            Rsp,
            n,
            cat(&[
                &[0x12, 0x63, 4, 0, 52, 0, 0x01, 0x02],
                &[0x04, 0, 0, 0, 0x80, 0, 0, 0, 0x02, 0, 0, 0],
                &[0; 16],
                &[0x02, 0x20, 0x10, 0x00, 0x03, 0x20, 0x02, 0x00],
                &[0x04, 0x20, 0x80, 0x00, 0x05, 0x20, 0x01, 0x00],
            ]),
        ),
        // §10.6 GET_DIGESTS: parameters reserved.
        v("GET_DIGESTS", Req, n, vec![0x12, 0x81, 0, 0]),
        // §10.6 Table "Successful DIGESTS response": slots 0 and 1 (Param2 = 03h).
        v(
            "DIGESTS",
            Rsp,
            n,
            cat(&[&[0x12, 0x01, 0, 0x03], &H48, &[0x49; 48]]),
        ),
        // §10.7 Table "GET_CERTIFICATE request": slot 0, offset 0, length 0400h.
        v(
            "GET_CERTIFICATE",
            Req,
            n,
            vec![0x12, 0x82, 0, 0, 0, 0, 0, 0x04],
        ),
        // §10.7 Table "Successful CERTIFICATE response": slot 0, portion 4, remainder 16.
        v(
            "CERTIFICATE",
            Rsp,
            n,
            vec![0x12, 0x02, 0, 0, 4, 0, 16, 0, 0x30, 0x82, 0x01, 0x0a],
        ),
        // §10.8 Table "CHALLENGE request": slot 0, all-measurements summary hash, nonce.
        v(
            "CHALLENGE 1.2",
            Req,
            n,
            cat(&[&[0x12, 0x83, 0, 0xff], &N32]),
        ),
        // 1.3 adds the 8-byte RequesterContext.
        v(
            "CHALLENGE 1.3",
            Req,
            n13,
            cat(&[&[0x13, 0x83, 0, 0x00], &N32, &CTX]),
        ),
        // §10.9 Table "Successful CHALLENGE_AUTH response": slot 0, SlotMask 01h,
        // CertChainHash, nonce, no summary hash, no opaque data, signature.
        v(
            "CHALLENGE_AUTH",
            Rsp,
            n,
            cat(&[&[0x12, 0x03, 0, 0x01], &H48, &N32, &[0, 0], &S96]),
        ),
        // §10.11 Table "GET_MEASUREMENTS request": unsigned, all measurements.
        v("GET_MEASUREMENTS", Req, n, vec![0x12, 0xe0, 0x00, 0xff]),
        // Signed: nonce and SlotIDParam 0.
        v(
            "GET_MEASUREMENTS signed",
            Req,
            n,
            cat(&[&[0x12, 0xe0, 0x01, 0x01], &N32, &[0]]),
        ),
        // 1.3 unsigned: RequesterContext only.
        v(
            "GET_MEASUREMENTS 1.3",
            Req,
            n13,
            cat(&[&[0x13, 0xe0, 0x00, 0x00], &CTX]),
        ),
        // §10.11 Table "Successful MEASUREMENTS response" with one DMTF block (index 1,
        // type 01h mutable firmware, 4-byte value), nonce, no opaque, no signature.
        v(
            "MEASUREMENTS",
            Rsp,
            n,
            cat(&[
                &[0x12, 0x60, 0, 0, 1, 11, 0, 0],
                &[1, 0x01, 7, 0, 0x01, 4, 0, 0xaa, 0xbb, 0xcc, 0xdd],
                &N32,
                &[0, 0],
            ]),
        ),
        // §10.14 Table "KEY_EXCHANGE request": no summary hash, slot 0, ReqSessionID
        // FFFEh, TerminationPolicy, random, secp384r1 public key, no opaque data.
        v(
            "KEY_EXCHANGE",
            Req,
            n,
            cat(&[
                &[0x12, 0xe4, 0, 0, 0xfe, 0xff, 0x01, 0],
                &R32,
                &D96,
                &[0, 0],
            ]),
        ),
        // §10.14 Table "Successful KEY_EXCHANGE_RSP": heartbeat 10 s, RspSessionID 0001h,
        // no mutual auth, random, public key, opaque 2 bytes, signature, verify data.
        v(
            "KEY_EXCHANGE_RSP",
            Rsp,
            n,
            cat(&[
                &[0x12, 0x64, 10, 0, 0x01, 0x00, 0, 0],
                &R32,
                &D96,
                &[2, 0, 0xee, 0xff],
                &S96,
                &H48,
            ]),
        ),
        // §10.15 Table "FINISH request": no signature, RequesterVerifyData.
        v("FINISH", Req, n, cat(&[&[0x12, 0xe5, 0, 0], &H48])),
        // With the mutual-authentication signature (Param1 bit 0, ReqSlotID 0).
        v(
            "FINISH signed",
            Req,
            n,
            cat(&[&[0x12, 0xe5, 1, 0], &S96, &H48]),
        ),
        // §10.15 FINISH_RSP, handshake encrypted: header only.
        v("FINISH_RSP", Rsp, n, vec![0x12, 0x65, 0, 0]),
        // Handshake in the clear: ResponderVerifyData follows.
        v(
            "FINISH_RSP in the clear",
            Rsp,
            Negotiated {
                handshake_in_the_clear: true,
                ..n
            },
            cat(&[&[0x12, 0x65, 0, 0], &H48]),
        ),
        // §10.16 Table "PSK_EXCHANGE request": ReqSessionID 0002h, hint 4, context 8.
        v(
            "PSK_EXCHANGE",
            Req,
            n,
            cat(&[&[0x12, 0xe6, 0, 0, 2, 0, 4, 0, 8, 0, 0, 0], b"hint", &CTX]),
        ),
        // §10.16 Table "PSK_EXCHANGE_RSP": RspSessionID 0003h, context 4, verify data.
        v(
            "PSK_EXCHANGE_RSP",
            Rsp,
            n,
            cat(&[&[0x12, 0x66, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0], b"rctx", &H48]),
        ),
        // §10.17 PSK_FINISH / PSK_FINISH_RSP.
        v("PSK_FINISH", Req, n, cat(&[&[0x12, 0xe7, 0, 0], &H48])),
        v("PSK_FINISH_RSP", Rsp, n, vec![0x12, 0x67, 0, 0]),
        // §10.18 HEARTBEAT / HEARTBEAT_ACK.
        v("HEARTBEAT", Req, n, vec![0x12, 0xe8, 0, 0]),
        v("HEARTBEAT_ACK", Rsp, n, vec![0x12, 0x68, 0, 0]),
        // §10.19 KEY_UPDATE UpdateKey tag 7, and its ACK.
        v("KEY_UPDATE", Req, n, vec![0x12, 0xe9, 1, 7]),
        v("KEY_UPDATE_ACK", Rsp, n, vec![0x12, 0x69, 1, 7]),
        // §10.21 END_SESSION (clear negotiated state) / END_SESSION_ACK.
        v("END_SESSION", Req, n, vec![0x12, 0xec, 1, 0]),
        v("END_SESSION_ACK", Rsp, n, vec![0x12, 0x6c, 0, 0]),
        // §10.22 VENDOR_DEFINED_REQUEST, PCI-SIG, IDE-KM QUERY (protocol 00h, object 00h,
        // reserved, PortIndex 0).
        v(
            "VENDOR_DEFINED_REQUEST",
            Req,
            n,
            vec![
                0x12, 0xfe, 0, 0, 3, 0, 2, 0x01, 0x00, 4, 0, 0x00, 0x00, 0x00, 0x00,
            ],
        ),
        // VENDOR_DEFINED_RESPONSE, PCI-SIG, TDISP (protocol 01h) payload of 3 bytes.
        v(
            "VENDOR_DEFINED_RESPONSE",
            Rsp,
            n,
            vec![
                0x12, 0x7e, 0, 0, 3, 0, 2, 0x01, 0x00, 3, 0, 0x01, 0x10, 0x01,
            ],
        ),
        // §10.13.2 RESPOND_IF_READY for GET_MEASUREMENTS, token 9.
        v("RESPOND_IF_READY", Req, n, vec![0x12, 0xff, 0xe0, 9]),
        // §10.13 ERROR Busy, no extended data.
        v("ERROR Busy", Rsp, n, vec![0x12, 0x7f, 0x03, 0]),
        // ERROR ResponseNotReady: RDTExponent 16, KEY_EXCHANGE, token 9, RDTM 4.
        v(
            "ERROR ResponseNotReady",
            Rsp,
            n,
            vec![0x12, 0x7f, 0x42, 0, 16, 0xe4, 9, 4],
        ),
        // ERROR LargeResponse: handle 5.
        v("ERROR LargeResponse", Rsp, n, vec![0x12, 0x7f, 0x0f, 0, 5]),
        // ERROR ResponseTooLarge: response size 0x12345.
        v(
            "ERROR ResponseTooLarge",
            Rsp,
            n,
            vec![0x12, 0x7f, 0x0d, 0, 0x45, 0x23, 0x01, 0],
        ),
    ];
    out.push(Vector {
        prefix_may_decode: true,
        ..v(
            "ERROR VendorDefined",
            Rsp,
            n,
            vec![0x12, 0x7f, 0xff, 0, 2, 0x01, 0x00, 0xab],
        )
    });
    out
}

enum Msg<'a> {
    Req(Request<'a>),
    Rsp(Response<'a>),
}

fn decode<'a>(dir: Dir, b: &'a [u8], neg: &Negotiated, padded: bool) -> Result<Msg<'a>, Error> {
    Ok(match (dir, padded) {
        (Dir::Req, false) => Msg::Req(Request::decode(b, neg)?),
        (Dir::Req, true) => Msg::Req(Request::decode_padded(b, neg)?),
        (Dir::Rsp, false) => Msg::Rsp(Response::decode(b, neg)?),
        (Dir::Rsp, true) => Msg::Rsp(Response::decode_padded(b, neg)?),
    })
}

fn encode(m: &Msg<'_>, neg: &Negotiated) -> Vec<u8> {
    common::encoded(4096, |w| match m {
        Msg::Req(r) => r.encode(w, neg),
        Msg::Rsp(r) => r.encode(w, neg),
    })
}

#[test]
fn every_vector_decodes_and_reencodes_to_the_same_bytes() {
    for vec in vectors() {
        let m = decode(vec.dir, &vec.bytes, &vec.neg, false)
            .unwrap_or_else(|e| panic!("{}: {e}", vec.name));
        assert_eq!(encode(&m, &vec.neg), vec.bytes, "{}", vec.name);
    }
}

#[test]
fn every_proper_prefix_is_an_error() {
    for vec in vectors().into_iter().filter(|v| !v.prefix_may_decode) {
        for len in 0..vec.bytes.len() {
            assert!(
                decode(vec.dir, &vec.bytes[..len], &vec.neg, false).is_err(),
                "{} decoded at length {len}",
                vec.name
            );
        }
    }
}

#[test]
fn trailing_bytes_fail_and_doe_padding_is_accepted_only_when_asked() {
    for vec in vectors().into_iter().filter(|v| !v.prefix_may_decode) {
        let mut b = vec.bytes.clone();
        b.push(0);
        assert!(
            decode(vec.dir, &b, &vec.neg, false).is_err(),
            "{}",
            vec.name
        );
        let pad = (4 - vec.bytes.len() % 4) % 4;
        let mut p = vec.bytes.clone();
        p.resize(vec.bytes.len() + pad, 0);
        let m = decode(vec.dir, &p, &vec.neg, true)
            .unwrap_or_else(|e| panic!("{} padded: {e}", vec.name));
        assert_eq!(encode(&m, &vec.neg), vec.bytes, "{}", vec.name);
        let mut bad = p.clone();
        bad.extend_from_slice(&[0, 0, 0, 0]);
        assert!(
            decode(vec.dir, &bad, &vec.neg, true).is_err(),
            "{}",
            vec.name
        );
    }
}

#[test]
fn wrong_versions_are_refused() {
    for vec in vectors() {
        for wrong in [0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20] {
            if wrong == vec.bytes[0] {
                continue;
            }
            let mut b = vec.bytes.clone();
            b[0] = wrong;
            assert!(
                matches!(
                    decode(vec.dir, &b, &vec.neg, false),
                    Err(Error::UnsupportedVersion { .. })
                ),
                "{} accepted version {wrong:#x}",
                vec.name
            );
        }
    }
}

#[test]
fn negotiated_sizes_must_match() {
    // A CHALLENGE_AUTH laid out for SHA-384/P-384 does not decode as SHA-256/P-256.
    let vecs = vectors();
    let ca = vecs.iter().find(|v| v.name == "CHALLENGE_AUTH").unwrap();
    let small = Negotiated {
        hash_size: 32,
        signature_size: 64,
        ..neg12()
    };
    assert!(Response::decode(&ca.bytes, &small).is_err());
    // With a summary hash expected, the same bytes are too short.
    let msh = Negotiated {
        measurement_summary_hash: true,
        ..neg12()
    };
    assert!(Response::decode(&ca.bytes, &msh).is_err());
    // Encoding a field of the wrong length is a LengthMismatch.
    let Response::ChallengeAuth(mut m) = Response::decode(&ca.bytes, &neg12()).unwrap() else {
        panic!()
    };
    m.signature = &S96[..64];
    let mut buf = [0u8; 512];
    assert!(matches!(
        m.encode(&mut Writer::new(&mut buf), &neg12()),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn decoded_fields_are_what_the_tables_say() {
    let n = neg12();
    let vecs = vectors();
    let get = |name: &str| vecs.iter().find(|v| v.name == name).unwrap().bytes.clone();

    let b = get("CAPABILITIES");
    let Response::Capabilities(c) = Response::decode(&b, &n).unwrap() else {
        panic!()
    };
    assert_eq!(c.flags.meas_cap(), 2);
    assert!(c.flags.contains(CapabilityFlags::KEY_EX));
    assert_eq!((c.data_transfer_size, c.max_spdm_msg_size), (4096, 4096));

    let b = get("KEY_EXCHANGE_RSP");
    let Response::KeyExchangeRsp(k) = Response::decode(&b, &n).unwrap() else {
        panic!()
    };
    assert_eq!(k.rsp_session_id, 1);
    assert_eq!(k.opaque, &[0xee, 0xff]);
    assert_eq!(k.signature_offset(), b.len() - 96 - 48);
    assert_eq!(k.len(), b.len());

    let b = get("ERROR ResponseTooLarge");
    let Response::Error(e) = Response::decode(&b, &n).unwrap() else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::ResponseTooLarge);
    assert_eq!(
        e.extended,
        ExtendedError::ResponseTooLarge { size: 0x12345 }
    );

    let b = get("VENDOR_DEFINED_REQUEST");
    let Request::VendorDefined(vd) = Request::decode(&b, &n).unwrap() else {
        panic!()
    };
    assert_eq!(
        vd.pci_sig_protocol(),
        Some(spdm::vendor::PROTOCOL_ID_IDE_KM)
    );

    let b = get("ALGORITHMS");
    let Response::Algorithms(a) = Response::decode(&b, &n).unwrap() else {
        panic!()
    };
    let derived =
        Negotiated::from_algorithms(Version::V12, &a, CapabilityFlags(0), CapabilityFlags(0))
            .unwrap();
    assert_eq!(derived.hash_size, 48);
    assert_eq!(derived.signature_size, 96);
    assert_eq!(derived.dhe_size, 96);
}

/// Writes every vector, prefixed with the two parameter bytes the `spdm` fuzz target
/// reads (`0x7e, 0x03`/`0x7f, 0x03`: H = S = D = 48 there), into `$TSM_SPDM_CORPUS` to seed
/// the fuzzer: `TSM_SPDM_CORPUS=fuzz/corpus/spdm cargo test --test a_spdm_vectors -- --ignored`.
#[test]
#[ignore = "not a test: writes the fuzz seed corpus (cargo test -- --ignored)"]
fn dump_fuzz_seed_corpus() {
    let Ok(dir) = std::env::var("TSM_SPDM_CORPUS") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for (i, vec) in vectors().iter().enumerate() {
        let a = if vec.neg.version == Version::V13 {
            0x7f
        } else {
            0x7e
        };
        let mut b = vec![a, 0x03];
        b.extend_from_slice(&vec.bytes);
        std::fs::write(format!("{dir}/seed-{i:02}"), b).unwrap();
    }
}
