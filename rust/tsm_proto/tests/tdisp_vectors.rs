// SPDX-License-Identifier: GPL-2.0

//! TDISP golden vectors, truncation, round-trip and robustness tests.
//!
//! Every vector was written by hand from PCIe Base 6.x §11.3: Table 11-5 "TDISP
//! Message Format" (protocol id `01h`, TDISPVersion `10h`, MessageType, 2 reserved
//! bytes, INTERFACE_ID = FUNCTION_ID + 8 reserved bytes), the request/response code
//! tables 11-3/11-4 and the per-message tables 11-7 to 11-30.

mod common;

use proptest::prelude::*;
use tsm_proto::codec::Error;
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::*;

/// FUNCTION_ID 0x0100_0108: RID 01:01.0, segment 0 valid (bit 24).
const FID: [u8; 4] = [0x08, 0x01, 0x00, 0x01];

fn msg(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x01, 0x10, code, 0x00, 0x00];
    v.extend(FID);
    v.extend([0u8; 8]);
    v.extend(payload);
    v
}

fn iface() -> InterfaceId {
    InterfaceId {
        function_id: FunctionId::new(0x0108, Some(0)),
    }
}

fn req(body: RequestBody<'_>) -> Request<'_> {
    Request {
        version: VERSION_1_0,
        interface_id: iface(),
        body,
    }
}

fn rsp(body: ResponseBody<'_>) -> Response<'_> {
    Response {
        version: VERSION_1_0,
        interface_id: iface(),
        body,
    }
}

fn enc_req(m: &Request<'_>) -> Vec<u8> {
    common::encoded(4096, |w| m.encode(w))
}

fn enc_rsp(m: &Response<'_>) -> Vec<u8> {
    common::encoded(70000, |w| m.encode(w))
}

const NONCE: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

/// (wire bytes, expected request) for every request code.
fn request_vectors() -> Vec<(Vec<u8>, Request<'static>)> {
    vec![
        // GET_TDISP_VERSION (§11.3.4): header only.
        (msg(0x81, &[]), req(RequestBody::GetVersion)),
        // GET_TDISP_CAPABILITIES (Table 11-8): TSM_CAPS = 0.
        (
            msg(0x82, &[0, 0, 0, 0]),
            req(RequestBody::GetCapabilities { tsm_caps: 0 }),
        ),
        // LOCK_INTERFACE_REQUEST (Table 11-10): flags NO_FW_UPDATE|LOCK_MSIX (0x0005),
        // default stream 3, reserved, offset 0x0000_0010_0000_0000, mask 0xFFFF_FFFF_FFFF.
        (
            msg(
                0x83,
                &[
                    0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
                ],
            ),
            req(RequestBody::LockInterface(LockInterfaceParams {
                flags: LockFlags::NO_FW_UPDATE.union(LockFlags::LOCK_MSIX),
                default_stream_id: 3,
                mmio_reporting_offset: 0x10_0000_0000,
                bind_p2p_address_mask: 0xffff_ffff_ffff,
            })),
        ),
        // GET_DEVICE_INTERFACE_REPORT (Table 11-13): offset 0x0100, length 0x0400.
        (
            msg(0x84, &[0x00, 0x01, 0x00, 0x04]),
            req(RequestBody::GetDeviceInterfaceReport {
                offset: 0x100,
                length: 0x400,
            }),
        ),
        // GET_DEVICE_INTERFACE_STATE (§11.3.12): header only.
        (msg(0x85, &[]), req(RequestBody::GetDeviceInterfaceState)),
        // START_INTERFACE_REQUEST (Table 11-18): 32-byte nonce.
        (
            msg(0x86, &NONCE),
            req(RequestBody::StartInterface { nonce: &NONCE }),
        ),
        // STOP_INTERFACE_REQUEST (§11.3.16): header only.
        (msg(0x87, &[]), req(RequestBody::StopInterface)),
        // BIND_P2P_STREAM_REQUEST (Table 11-20): P2P_STREAM_ID 9.
        (
            msg(0x88, &[0x09]),
            req(RequestBody::BindP2pStream { p2p_stream_id: 9 }),
        ),
        // UNBIND_P2P_STREAM_REQUEST (Table 11-22): P2P_STREAM_ID 9.
        (
            msg(0x89, &[0x09]),
            req(RequestBody::UnbindP2pStream { p2p_stream_id: 9 }),
        ),
        // SET_MMIO_ATTRIBUTE_REQUEST (Table 11-24): first page 0xFE00_0000, 2 pages,
        // IS_NON_TEE_MEM (bit 2), range id 1.
        (
            msg(
                0x8a,
                &[
                    0x00, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04,
                    0x00, 0x01, 0x00,
                ],
            ),
            req(RequestBody::SetMmioAttribute(MmioRange {
                first_page: 0xfe00_0000,
                number_of_pages: 2,
                attributes: MmioAttributes::from_bits(MmioAttributes::IS_NON_TEE_MEM),
                range_id: 1,
            })),
        ),
        // VDM_REQUEST (Table 11-29): PCI-SIG registry, vendor id 8086h (2 bytes), data.
        (
            msg(0x8b, &[0x00, 0x02, 0x86, 0x80, 0xde, 0xad]),
            req(RequestBody::Vdm(VendorData {
                registry_id: 0,
                vendor_id: &[0x86, 0x80],
                data: &[0xde, 0xad],
            })),
        ),
    ]
}

const REPORT_PORTION: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

/// DSM capabilities announcing no request yet: every lock flag, 52 address bits, one
/// outstanding request for this TDI, four for all.
fn caps() -> DsmCapabilities {
    DsmCapabilities {
        dsm_caps: 0,
        req_msgs_supported: [0; 16],
        lock_interface_flags_supported: 0x001f,
        dev_addr_width: 52,
        num_req_this: 1,
        num_req_all: 4,
    }
}

#[test]
fn caps_supports_bitmap() {
    // Reserved lock flag bits are dropped.
    let mut c = DsmCapabilities {
        lock_interface_flags_supported: 0xffff,
        ..caps()
    };
    c.set_supported(RequestCode::Vdm);
    assert_eq!(c.req_msgs_supported[1], 0x08);
    assert!(c.supports(RequestCode::Vdm));
    assert!(!c.supports(RequestCode::GetVersion));
    assert_eq!(c.lock_flags_supported(), LockFlags::ALL);
}

/// (wire bytes, expected response) for every response code and every error code.
fn response_vectors() -> Vec<(Vec<u8>, Response<'static>)> {
    let mut caps = caps();
    for c in RequestCode::ALL.iter().take(7) {
        caps.set_supported(*c);
    }
    let mut v = vec![
        // TDISP_VERSION (Table 11-7): count 1, version 10h.
        (
            msg(0x01, &[0x01, 0x10]),
            rsp(ResponseBody::Version(VersionList::new(&[0x10]).unwrap())),
        ),
        // TDISP_CAPABILITIES (Table 11-9): DSM_CAPS 0, REQ_MSGS_SUPPORTED bits 1..7
        // (81h-87h) = FEh, lock flags 001Fh, 3 reserved, width 52, this 1, all 4.
        (
            msg(
                0x02,
                &[
                    0, 0, 0, 0, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0x00, 0,
                    0, 0, 52, 1, 4,
                ],
            ),
            rsp(ResponseBody::Capabilities(caps)),
        ),
        // LOCK_INTERFACE_RESPONSE (Table 11-11): START_INTERFACE_NONCE.
        (
            msg(0x03, &NONCE),
            rsp(ResponseBody::LockInterface { nonce: &NONCE }),
        ),
        // DEVICE_INTERFACE_REPORT (Table 11-14): portion 4, remainder 0x0010.
        (
            msg(0x04, &[0x04, 0x00, 0x10, 0x00, 0xaa, 0xbb, 0xcc, 0xdd]),
            rsp(ResponseBody::DeviceInterfaceReport {
                portion: &REPORT_PORTION,
                remainder_length: 0x10,
            }),
        ),
        // DEVICE_INTERFACE_STATE (Table 11-17): RUN (2).
        (
            msg(0x05, &[0x02]),
            rsp(ResponseBody::DeviceInterfaceState(TdiState::Run)),
        ),
        (msg(0x06, &[]), rsp(ResponseBody::StartInterface)),
        (msg(0x07, &[]), rsp(ResponseBody::StopInterface)),
        (msg(0x08, &[]), rsp(ResponseBody::BindP2pStream)),
        (msg(0x09, &[]), rsp(ResponseBody::UnbindP2pStream)),
        (msg(0x0a, &[]), rsp(ResponseBody::SetMmioAttribute)),
        // VDM_RESPONSE (Table 11-30): CXL registry (01h), vendor id 1 byte, no data.
        (
            msg(0x0b, &[0x01, 0x01, 0x1e]),
            rsp(ResponseBody::Vdm(VendorData {
                registry_id: 1,
                vendor_id: &[0x1e],
                data: &[],
            })),
        ),
        // TDISP_ERROR VENDOR_SPECIFIC_ERROR (Tables 11-26..28): ERROR_DATA = 5 (length
        // of the extended data), registry 00h, vendor id 1AF4h, error data 0x77.
        (
            msg(
                0x7f,
                &[0xff, 0, 0, 0, 0x05, 0, 0, 0, 0x00, 0x02, 0xf4, 0x1a, 0x77],
            ),
            rsp(ResponseBody::Error(TdispError {
                code: ErrorCode::VendorSpecificError,
                error_data: 5,
                extended: Some(VendorData {
                    registry_id: 0,
                    vendor_id: &[0xf4, 0x1a],
                    data: &[0x77],
                }),
            })),
        ),
        // TDISP_ERROR UNSUPPORTED_REQUEST: ERROR_DATA is the request code (8Bh).
        (
            msg(0x7f, &[0x07, 0, 0, 0, 0x8b, 0, 0, 0]),
            rsp(ResponseBody::Error(TdispError {
                code: ErrorCode::UnsupportedRequest,
                error_data: 0x8b,
                extended: None,
            })),
        ),
    ];
    // TDISP_ERROR with each remaining code (Table 11-27), ERROR_DATA reserved (0).
    for (code, wire) in [
        (ErrorCode::InvalidRequest, [0x01, 0x00]),
        (ErrorCode::Busy, [0x03, 0x00]),
        (ErrorCode::InvalidInterfaceState, [0x04, 0x00]),
        (ErrorCode::Unspecified, [0x05, 0x00]),
        (ErrorCode::VersionMismatch, [0x41, 0x00]),
        (ErrorCode::InvalidInterface, [0x01, 0x01]),
        (ErrorCode::InvalidNonce, [0x02, 0x01]),
        (ErrorCode::InsufficientEntropy, [0x03, 0x01]),
        (ErrorCode::InvalidDeviceConfiguration, [0x04, 0x01]),
    ] {
        v.push((
            msg(0x7f, &[wire[0], wire[1], 0, 0, 0, 0, 0, 0]),
            rsp(ResponseBody::Error(TdispError {
                code,
                error_data: 0,
                extended: None,
            })),
        ));
    }
    v
}

/// Checks one golden vector: `bytes` decode to `expected`, as a message of either
/// direction and in its own direction only, and `expected` encodes back to `bytes`.
fn check_vector(bytes: &[u8], expected: Message<'_>) {
    let (req, rsp) = (Request::decode(bytes), Response::decode(bytes));
    match expected {
        Message::Request(m) => assert!(req == Ok(m) && rsp.is_err(), "{bytes:02x?}: {req:?}"),
        Message::Response(m) => assert!(rsp == Ok(m) && req.is_err(), "{bytes:02x?}: {rsp:?}"),
    }
    assert_eq!(Message::decode(bytes), Ok(expected), "{bytes:02x?}");
    assert_eq!(common::encoded(70000, |w| expected.encode(w)), bytes);
}

#[test]
fn request_vectors_decode_and_reencode() {
    let v = request_vectors();
    assert_eq!(v.len(), RequestCode::ALL.len());
    for (bytes, expected) in v {
        check_vector(&bytes, Message::Request(expected));
    }
}

#[test]
fn response_vectors_decode_and_reencode() {
    let v = response_vectors();
    for code in ResponseCode::ALL {
        assert!(
            v.iter().any(|(_, r)| r.body.code() == code),
            "{code:?} covered"
        );
    }
    for code in ErrorCode::ALL {
        assert!(
            v.iter()
                .any(|(_, r)| matches!(r.body, ResponseBody::Error(e) if e.code == code)),
            "{code:?} covered"
        );
    }
    for (bytes, expected) in v {
        check_vector(&bytes, Message::Response(expected));
    }
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let all: Vec<Vec<u8>> = request_vectors()
        .into_iter()
        .map(|(b, _)| b)
        .chain(response_vectors().into_iter().map(|(b, _)| b))
        .collect();
    for v in all {
        // Messages whose tail is "the rest" (VDM, vendor error data) may legitimately
        // decode cut short or lengthened; at every length they only decode or fail.
        if matches!(v[2], 0x8b | 0x0b | 0x7f) {
            for n in 0..v.len() {
                let _ = Message::decode(&v[..n]);
            }
        } else {
            common::assert_exact_length(&v, |b| Message::decode(b).err());
        }
    }
}

#[test]
fn header_rejections() {
    let mut bad_proto = msg(0x81, &[]);
    bad_proto[0] = 0x00;
    assert!(matches!(
        Message::decode(&bad_proto),
        Err(Error::UnknownCode { .. })
    ));
    let mut v2 = msg(0x81, &[]);
    v2[1] = 0x20;
    assert_eq!(
        Message::decode(&v2),
        Err(Error::UnsupportedVersion { version: 0x20 })
    );
    let mut v11 = msg(0x81, &[]);
    v11[1] = 0x11;
    assert!(Message::decode(&v11).is_ok());
    let mut fid = msg(0x81, &[]);
    fid[8] = 0x02;
    assert!(matches!(
        Message::decode(&fid),
        Err(Error::InvalidField {
            field: "tdisp.function_id",
            ..
        })
    ));
    assert!(matches!(
        Message::decode(&msg(0x8c, &[])),
        Err(Error::UnknownCode { .. })
    ));
    assert!(matches!(
        Message::decode(&msg(0x0c, &[])),
        Err(Error::UnknownCode { .. })
    ));
    // Reserved lock flag bit 5.
    let lock = msg(
        0x83,
        &[
            0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    assert!(matches!(
        Request::decode(&lock),
        Err(Error::InvalidField {
            field: "tdisp.lock_flags",
            ..
        })
    ));
    // Reserved TDI state 4.
    assert!(matches!(
        Response::decode(&msg(0x05, &[4])),
        Err(Error::UnknownCode { .. })
    ));
    // Reserved error code 2, and extended data on a non-vendor error.
    assert!(matches!(
        Response::decode(&msg(0x7f, &[2, 0, 0, 0, 0, 0, 0, 0])),
        Err(Error::UnknownCode { .. })
    ));
    assert!(Response::decode(&msg(0x7f, &[1, 0, 0, 0, 0, 0, 0, 0, 9])).is_err());
    // VERSION_NUM_COUNT 0.
    assert!(Response::decode(&msg(0x01, &[0])).is_err());
    // Vendor error whose ERROR_DATA disagrees with the extended data length.
    assert!(Response::decode(&msg(0x7f, &[0xff, 0, 0, 0, 9, 0, 0, 0, 0, 0])).is_err());
}

fn request_body() -> impl Strategy<Value = (u8, [u8; 32], u16, u64, u64, Vec<u8>, Vec<u8>)> {
    (
        0u8..11,
        any::<[u8; 32]>(),
        any::<u16>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
}

proptest! {
    #[test]
    fn requests_round_trip(
        (which, nonce, a, b, c, vid, data) in request_body(),
        rid in any::<u16>(), seg in proptest::option::of(any::<u8>()), minor in 0u8..16,
    ) {
        let body = match which {
            0 => RequestBody::GetVersion,
            1 => RequestBody::GetCapabilities { tsm_caps: b as u32 },
            2 => RequestBody::LockInterface(LockInterfaceParams {
                flags: LockFlags::from_bits(a & 0x1f).unwrap(),
                default_stream_id: (a >> 8) as u8,
                mmio_reporting_offset: b,
                bind_p2p_address_mask: c,
            }),
            3 => RequestBody::GetDeviceInterfaceReport { offset: a, length: b as u16 },
            4 => RequestBody::GetDeviceInterfaceState,
            5 => RequestBody::StartInterface { nonce: &nonce },
            6 => RequestBody::StopInterface,
            7 => RequestBody::BindP2pStream { p2p_stream_id: a as u8 },
            8 => RequestBody::UnbindP2pStream { p2p_stream_id: a as u8 },
            9 => RequestBody::SetMmioAttribute(MmioRange {
                first_page: b, number_of_pages: c as u32,
                attributes: MmioAttributes::from_bits(a), range_id: (c >> 32) as u16,
            }),
            _ => RequestBody::Vdm(VendorData { registry_id: a as u8, vendor_id: &vid, data: &data }),
        };
        let m = Request {
            version: 0x10 | minor,
            interface_id: InterfaceId { function_id: FunctionId::new(rid, seg) },
            body,
        };
        let bytes = enc_req(&m);
        prop_assert_eq!(Request::decode(&bytes), Ok(m));
    }

    #[test]
    fn responses_round_trip(
        (which, nonce, a, b, c, vid, data) in request_body(),
        err in 0usize..11, portion in proptest::collection::vec(any::<u8>(), 0..300),
        versions in proptest::collection::vec(any::<u8>(), 1..10),
    ) {
        let mut reqs = [0u8; 16];
        reqs[..8].copy_from_slice(&c.to_le_bytes());
        let body = match which {
            0 => ResponseBody::Version(VersionList::new(&versions).unwrap()),
            1 => ResponseBody::Capabilities(DsmCapabilities {
                dsm_caps: b as u32, req_msgs_supported: reqs, lock_interface_flags_supported: a,
                dev_addr_width: (b >> 32) as u8, num_req_this: (b >> 40) as u8, num_req_all: (b >> 48) as u8,
            }),
            2 => ResponseBody::LockInterface { nonce: &nonce },
            3 => ResponseBody::DeviceInterfaceReport { portion: &portion, remainder_length: a },
            4 => ResponseBody::DeviceInterfaceState(TdiState::ALL[(a % 4) as usize]),
            5 => ResponseBody::StartInterface,
            6 => ResponseBody::StopInterface,
            7 => ResponseBody::BindP2pStream,
            8 => ResponseBody::UnbindP2pStream,
            9 => ResponseBody::Vdm(VendorData { registry_id: a as u8, vendor_id: &vid, data: &data }),
            _ => {
                let code = ErrorCode::ALL[err];
                if code == ErrorCode::VendorSpecificError {
                    let ext = VendorData { registry_id: 0, vendor_id: &vid, data: &data };
                    ResponseBody::Error(TdispError { code, error_data: ext.encoded_len() as u32, extended: Some(ext) })
                } else {
                    ResponseBody::Error(TdispError { code, error_data: b as u32, extended: None })
                }
            }
        };
        let m = rsp(body);
        let bytes = enc_rsp(&m);
        prop_assert_eq!(Response::decode(&bytes), Ok(m));
    }

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Request::decode(&data);
        let _ = Response::decode(&data);
        let _ = Message::decode(&data);
    }

    #[test]
    fn any_payload_after_valid_header_never_panics(code in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..80)) {
        common::assert_round_trip!(Message::decode, &msg(code, &data));
    }
}
