// SPDX-License-Identifier: GPL-2.0

//! Golden vectors and negative tests for the PCIe DOE data objects, the SPDM secured
//! message records over the PCIe DOE binding, the key schedule data and the session
//! transcript rules.

mod common;

use common::ToyAead;
use tsm_proto::codec::{Error, Result, Writer};
use tsm_proto::doe::{self, DataObject, DiscoveryRequest, DiscoveryResponse, SpdmKind};
use tsm_proto::secured::{self, label, Hkdf, SecuredRecord, Step, IV_LEN};
use tsm_proto::spdm::transcript::{parts, Point, SessionTranscript, TranscriptHash};
use tsm_proto::spdm::{Negotiated, Request, Version};

/// PCIe 6.x §6.30.1.1 DOE Discovery response object: VID 0001h, type 0, 3 DW, payload
/// VID 0001h, protocol 1 (CMA/SPDM), next index 2.
const DISCOVERY_RSP: [u8; 12] = [0x01, 0, 0x00, 0, 3, 0, 0, 0, 0x01, 0x00, 0x01, 0x02];

/// PCIe 6.x §6.31.3 CMA/SPDM object carrying GET_VERSION (one payload dword).
const CMA_GET_VERSION: [u8; 12] = [0x01, 0, 0x01, 0, 3, 0, 0, 0, 0x10, 0x84, 0, 0];

#[test]
fn doe_golden_vectors() {
    let obj = DataObject::decode(&DISCOVERY_RSP).unwrap();
    assert_eq!(obj.object_type, doe::TYPE_DISCOVERY);
    assert_eq!(
        DiscoveryResponse::decode(obj.payload).unwrap(),
        DiscoveryResponse {
            vendor_id: doe::PCI_SIG_VENDOR_ID,
            object_type: doe::TYPE_CMA_SPDM,
            next_index: 2
        }
    );
    let (kind, payload) = doe::unwrap_spdm(&CMA_GET_VERSION).unwrap();
    assert_eq!(kind, SpdmKind::Plain);
    let neg = Negotiated::initial(Version::V12);
    assert_eq!(Request::decode(payload, &neg), Ok(Request::GetVersion));
    let mut out = [0u8; 12];
    assert_eq!(
        doe::wrap_spdm(SpdmKind::Plain, &[0x10, 0x84, 0, 0], &mut out),
        Ok(12)
    );
    assert_eq!(out, CMA_GET_VERSION);
    let mut b = [0u8; 4];
    DiscoveryRequest {
        index: 1,
        version: 0,
    }
    .encode(&mut Writer::new(&mut b))
    .unwrap();
    assert_eq!(b, [1, 0, 0, 0]);
}

#[test]
fn doe_truncation_and_length_errors() {
    for v in [&DISCOVERY_RSP[..], &CMA_GET_VERSION[..]] {
        common::assert_prefixes_refused(v, |b| DataObject::decode(b).err());
        let mut long = v.to_vec();
        long.extend_from_slice(&[0; 4]);
        assert!(matches!(
            DataObject::decode(&long),
            Err(Error::LengthMismatch { .. })
        ));
    }
    // A secured-type object is not a CMA object and vice versa, other vendors refused.
    let mut b = CMA_GET_VERSION;
    b[2] = 2;
    assert_eq!(doe::unwrap_spdm(&b).unwrap().0, SpdmKind::Secured);
    b[2] = 3;
    assert!(doe::unwrap_spdm(&b).is_err());
    assert!(doe::unwrap_spdm(&DISCOVERY_RSP).is_err());
    // Payload too large for a DOE object.
    let big = vec![0u8; doe::MAX_PAYLOAD_LEN + 1];
    let mut out = vec![0u8; doe::MAX_OBJECT_LEN + 8];
    assert!(doe::wrap_spdm(SpdmKind::Plain, &big, &mut out).is_err());
    let max = vec![0u8; doe::MAX_PAYLOAD_LEN];
    let n = doe::wrap_spdm(SpdmKind::Plain, &max, &mut out).unwrap();
    assert_eq!(n, doe::MAX_OBJECT_LEN);
    assert_eq!(&out[4..8], &[0, 0, 0, 0]);
    assert_eq!(doe::unwrap_spdm(&out[..n]).unwrap().1.len(), max.len());
}

/// DSP0277 secured message, PCIe DOE binding (no sequence number on the wire):
/// SessionID FFFE0001h, Length 24 = 2 + 4 (HEARTBEAT) + 2 (random) + 16 (MAC),
/// ApplicationDataLength 4, the SPDM message, random data, MAC.
fn secured_vector() -> Vec<u8> {
    let mut v = vec![
        0x01, 0x00, 0xfe, 0xff, 24, 0, 4, 0, 0x12, 0xe8, 0, 0, 0xaa, 0xbb,
    ];
    v.extend_from_slice(&[0x7a; 16]);
    v
}

/// Seals `app` and `padding` with `aead` as session FFFE0001h into a 64-byte buffer
/// (zero past the record); returns the buffer and the record length.
fn seal(
    mut aead: ToyAead,
    iv: &[u8; IV_LEN],
    seq: u64,
    app: &[u8],
    padding: &[u8],
) -> ([u8; 64], usize) {
    let mut out = [0u8; 64];
    let id = secured::session_id(0x0001, 0xfffe);
    let n = secured::seal_record(&mut aead, iv, seq, id, app, padding, &mut out).unwrap();
    (out, n)
}

#[test]
fn secured_golden_vector() {
    let iv = [0u8; IV_LEN];
    let (out, n) = seal(ToyAead::clear(), &iv, 0, &[0x12, 0xe8, 0, 0], &[0xaa, 0xbb]);
    assert_eq!(&out[..n], &secured_vector()[..]);
    let rec = SecuredRecord::split(&out[..n]).unwrap();
    assert_eq!(rec.header, &out[..6]);
    let mut scratch = [0u8; 64];
    assert_eq!(
        rec.open(&mut ToyAead::clear(), &iv, 0, &mut scratch)
            .unwrap(),
        &[0x12, 0xe8, 0, 0]
    );
    // Inside a Secured CMA/SPDM DOE object, padded to a dword.
    let mut obj = [0u8; 40];
    let m = doe::wrap_spdm(SpdmKind::Secured, &out[..n], &mut obj).unwrap();
    let (kind, payload) = doe::unwrap_spdm(&obj[..m]).unwrap();
    assert_eq!(kind, SpdmKind::Secured);
    assert_eq!(SecuredRecord::split_padded(payload).unwrap(), rec);
}

#[test]
fn record_layout_golden() {
    // DSP0277 + PCIe DOE binding: SessionID 0xFFFE0001 (req 0001, rsp FFFE), no
    // sequence number, Length = 2 + 4 + 1 + 16 = 23.
    let iv = [0x10; IV_LEN];
    let (out, n) = seal(ToyAead::xor_aad_sum(), &iv, 1, &[0x12, 0xe8, 0, 0], &[0xaa]);
    assert_eq!(n, 29);
    assert_eq!(out[..6], [0x01, 0x00, 0xfe, 0xff, 23, 0]);
    // nonce byte 0 = 0x10 ^ 1 = 0x11
    assert_eq!(
        out[6..13],
        [
            0x04 ^ 0x11,
            0x11,
            0x12 ^ 0x11,
            0xe8 ^ 0x11,
            0x11,
            0x11,
            0xaa ^ 0x11
        ]
    );
    let rec = SecuredRecord::split(&out[..n]).unwrap();
    assert_eq!(rec.session_id, 0xfffe_0001);
    let mut scratch = [0u8; 32];
    assert_eq!(
        rec.open(&mut ToyAead::xor_aad_sum(), &iv, 1, &mut scratch)
            .unwrap(),
        &[0x12, 0xe8, 0, 0]
    );
    assert!(SecuredRecord::split(&out[..n + 1]).is_err());
    assert!(SecuredRecord::split_padded(&out[..n + 3]).is_ok());
    let mut bad = out;
    bad[20] ^= 1;
    let rec = SecuredRecord::split(&bad[..n]).unwrap();
    assert!(rec
        .open(&mut ToyAead::xor_aad_sum(), &iv, 1, &mut scratch)
        .is_err());
}

#[test]
fn secured_negative_cases() {
    let v = secured_vector();
    common::assert_prefixes_refused(&v, |b| SecuredRecord::split(b).err());
    let mut long = v.clone();
    long.push(0);
    assert!(SecuredRecord::split(&long).is_err());
    long.extend_from_slice(&[0, 0, 0]);
    assert!(SecuredRecord::split_padded(&long).is_err());
    // ApplicationDataLength larger than the ciphertext.
    let mut bad = v.clone();
    bad[6] = 7;
    let rec = SecuredRecord::split(&bad).unwrap();
    let mut scratch = [0u8; 64];
    assert!(matches!(
        rec.open(&mut ToyAead::clear(), &[0; IV_LEN], 0, &mut scratch),
        Err(Error::LengthMismatch { .. })
    ));
    // Bad MAC.
    let mut bad = v.clone();
    bad[20] = 0;
    let rec = SecuredRecord::split(&bad).unwrap();
    assert!(rec
        .open(&mut ToyAead::clear(), &[0; IV_LEN], 0, &mut scratch)
        .is_err());
    // Scratch too small.
    let rec = SecuredRecord::split(&v).unwrap();
    assert!(matches!(
        rec.open(&mut ToyAead::clear(), &[0; IV_LEN], 0, &mut [0u8; 3]),
        Err(Error::BufferTooSmall { .. })
    ));
    // Output too small, application data too large.
    assert!(secured::seal_record(
        &mut ToyAead::clear(),
        &[0; IV_LEN],
        0,
        1,
        &[0; 8],
        &[],
        &mut [0u8; 10]
    )
    .is_err());
    let huge = vec![0u8; 70_000];
    let mut out = vec![0u8; 70_100];
    assert!(secured::seal_record(
        &mut ToyAead::clear(),
        &[0; IV_LEN],
        0,
        1,
        &huge,
        &[],
        &mut out
    )
    .is_err());
}

#[test]
fn nonce_is_iv_xor_little_endian_sequence() {
    let iv = [0xff; IV_LEN];
    assert_eq!(
        secured::nonce(&iv, 1),
        [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(secured::nonce(&iv, u64::MAX)[..8], [0; 8]);
}

/// Records every expand call.
#[derive(Default)]
struct LogHkdf {
    infos: Vec<Vec<u8>>,
}

impl Hkdf for LogHkdf {
    fn extract(&mut self, _: &[u8], _: &[u8], prk: &mut [u8]) -> Result<()> {
        prk.fill(1);
        Ok(())
    }

    fn expand(&mut self, _: &[u8], info: &[u8], okm: &mut [u8]) -> Result<()> {
        self.infos.push(info.to_vec());
        okm.fill(2);
        Ok(())
    }
}

#[test]
fn key_schedule_data_and_bin_concat() {
    // DSP0274 1.3.0 §12: bin_str1 = BinConcat(H, "spdm1.3 ", "req hs data", TH1).
    let mut h = LogHkdf::default();
    let th1 = [0x11u8; 48];
    let mut out = [0u8; 48];
    secured::expand_label(
        &mut h,
        &[0; 48],
        Version::V13,
        label::REQ_HS_DATA,
        &th1,
        &mut out,
    )
    .unwrap();
    let mut want = vec![48, 0];
    want.extend_from_slice(b"spdm1.3 req hs data");
    want.extend_from_slice(&th1);
    assert_eq!(h.infos[0], want);
    // Key and IV: BinConcat(key_len, ver, "key") and BinConcat(12, ver, "iv").
    for (label, len) in secured::TRAFFIC_KEYS {
        let n = match len {
            secured::OutLen::Key => 32,
            secured::OutLen::Iv => 12,
            secured::OutLen::Hash => 48,
        };
        let mut out = vec![0u8; n];
        secured::expand_label(&mut h, &[0; 48], Version::V12, label, &[], &mut out).unwrap();
    }
    assert_eq!(h.infos[1], b"\x20\x00spdm1.2 key");
    assert_eq!(h.infos[2], b"\x0c\x00spdm1.2 iv");
    // The schedule's order: extract, req hs, rsp hs, derived, extract, req/rsp app, exp.
    let labels: Vec<&[u8]> = secured::KEY_SCHEDULE
        .iter()
        .filter_map(|s| match s {
            Step::Expand { label, .. } => Some(*label),
            Step::Extract { .. } => None,
        })
        .collect();
    assert_eq!(
        labels,
        [
            label::REQ_HS_DATA,
            label::RSP_HS_DATA,
            label::DERIVED,
            label::REQ_APP_DATA,
            label::RSP_APP_DATA,
            label::EXP_MASTER
        ]
    );
    assert_eq!(secured::FINISHED_KEY.0, b"finished");
    assert_eq!(secured::TRAFFIC_UPDATE.0, b"traffic upd");
    // An info string longer than label + largest hash does not fit.
    let mut out = [0u8; 32];
    assert!(
        secured::expand_label(&mut h, &[], Version::V12, label::KEY, &[0; 100], &mut out).is_err()
    );
}

struct Collect(Vec<u8>);

impl TranscriptHash for Collect {
    fn update(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
    }
}

#[test]
fn transcript_points_cover_the_spec_table() {
    let neg = Negotiated {
        hash_size: 4,
        signature_size: 8,
        req_signature_size: 6,
        dhe_size: 2,
        ..Negotiated::initial(Version::V12)
    };
    let vca: [&[u8]; 6] = [b"GV", b"V", b"GC", b"C", b"NA", b"A"];
    let kex = [0x12, 0xe4, 0, 0, 9];
    let mut kex_rsp = vec![0x12, 0x64, 0, 0, 1];
    kex_rsp.extend_from_slice(&[0x5; 8]); // signature
    kex_rsp.extend_from_slice(&[0x6; 4]); // verify data
    let mut finish = vec![0x12, 0xe5, 1, 0];
    finish.extend_from_slice(&[0x7; 6]);
    finish.extend_from_slice(&[0x8; 4]);
    let finish_rsp = [0x12, 0x65, 0, 0];
    let t = SessionTranscript {
        vca: &vca,
        cert_chain_hash: b"CtCt",
        key_exchange: &kex,
        key_exchange_rsp: &kex_rsp,
        mut_cert_chain_hash: Some(b"CMCM"),
        finish: &finish,
        finish_rsp: &finish_rsp,
        ..Default::default()
    };
    let feed = |p: Point| {
        let mut c = Collect(Vec::new());
        t.feed(p, &neg, &mut c).unwrap();
        c.0
    };
    let vca_ct: Vec<u8> = b"GVVGCCNAACtCt".to_vec();
    let mut want = vca_ct.clone();
    want.extend_from_slice(&kex);
    want.extend_from_slice(&kex_rsp[..5]);
    assert_eq!(feed(Point::KeyExchangeRspSignature), want);
    want.extend_from_slice(&[0x5; 8]);
    assert_eq!(feed(Point::Th1), want);
    want.extend_from_slice(&[0x6; 4]);
    want.extend_from_slice(b"CMCM");
    let k = want.clone();
    want.extend_from_slice(&finish[..4]);
    assert_eq!(feed(Point::FinishSignature), want);
    want.extend_from_slice(&[0x7; 6]);
    assert_eq!(feed(Point::FinishHmac), want);
    let mut th2 = k;
    th2.extend_from_slice(&finish);
    th2.extend_from_slice(&finish_rsp);
    assert_eq!(feed(Point::Th2), th2);
    assert_eq!(feed(Point::FinishRspHmac), th2);
    assert_eq!(parts(Point::Th2).len(), 7);
    // PSK points need the PSK messages.
    let mut c = Collect(Vec::new());
    assert!(t.feed(Point::PskTh1, &neg, &mut c).is_err());
    assert!(c.0.is_empty());
}
