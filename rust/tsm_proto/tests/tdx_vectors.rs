// SPDX-License-Identifier: GPL-2.0

//! Golden vectors of the TDX Connect host ABI.
//!
//! Every expected register and byte is written out by hand from the project's fact sheet
//! (`shared/backends/tdx-connect-abi.md` §1 leaf table, §2 status table, §3 encodings),
//! not produced by the encoder, so a layout error in the crate fails here.

use tsm_proto::codec::{Error, Writer};
use tsm_proto::tdx::call::ALL_ONES;
use tsm_proto::tdx::fields::metadata;
use tsm_proto::tdx::hpa::{decode_iommu_mt, read_root_page, write_root_page};
use tsm_proto::tdx::relay::MAX_PAYLOAD;
use tsm_proto::tdx::status::classify;
use tsm_proto::tdx::*;

fn encode(n: usize, f: impl FnOnce(&mut Writer<'_>) -> tsm_proto::codec::Result<()>) -> Vec<u8> {
    let mut buf = vec![0xAAu8; n];
    let mut w = Writer::new(&mut buf);
    f(&mut w).unwrap();
    assert_eq!(w.finish(), n);
    buf
}

/// `(rax, [rcx, rdx, r8, r9, r10, r11, r12, r13, r14])`.
fn regs_of(r: &Regs) -> (u64, [u64; 9]) {
    (r.rax, r.inputs())
}

#[test]
fn leaf_numbers() {
    // §1 "#" column.
    let table = [
        (Leaf::SysConfig, 45),
        (Leaf::ExtInit, 60),
        (Leaf::ExtMemAdd, 61),
        (Leaf::IommuSetup, 128),
        (Leaf::IommuClear, 129),
        (Leaf::SpdmCreate, 130),
        (Leaf::SpdmDelete, 131),
        (Leaf::IdeStreamCreate, 132),
        (Leaf::IdeStreamBlock, 133),
        (Leaf::IdeStreamDelete, 134),
        (Leaf::IdeStreamKm, 135),
        (Leaf::SpdmConnect, 142),
        (Leaf::SpdmDisconnect, 143),
        (Leaf::SpdmMng, 144),
    ];
    assert_eq!(table.len(), Leaf::ALL.len());
    for (l, n) in table {
        assert_eq!(l.to_u16(), n);
        assert_eq!(Leaf::from_u16(n), Ok(l));
    }
    // TDH.SYS.CONFIG v1: RAX 0x1002D (version 1 in bits 23:16).
    assert_eq!(Leaf::SysConfig.rax(), 0x1_002D);
    assert_eq!(
        LeafValue::decode(0x1_002D),
        Ok(LeafValue {
            leaf: Leaf::SysConfig,
            version: 1
        })
    );
    // Numbers of the superseded prototype that the new ABI does not use.
    for n in [136u16, 137, 140, 150, 166] {
        assert!(matches!(
            Leaf::from_u16(n),
            Err(Error::UnknownCode {
                space: "tdx.leaf",
                ..
            })
        ));
    }
    // Extension SEAMCALLs: CONNECT, DISCONNECT, MNG only.
    let ext: Vec<_> = Leaf::ALL.into_iter().filter(|l| l.is_extension()).collect();
    assert_eq!(
        ext,
        [Leaf::SpdmConnect, Leaf::SpdmDisconnect, Leaf::SpdmMng]
    );
}

#[test]
fn hpa_array_t() {
    // Singleton: the page's own PA, last index 0.
    assert_eq!(
        HpaArray::singleton(0x0000_0012_3456_7000).encode(),
        Ok(0x0000_0012_3456_7000)
    );
    // Root page at 0x1234_5000 with 3 pages: last index 2 in 63:55 = 0x0100_0000_0000_0000.
    assert_eq!(
        HpaArray::root(0x1234_5000, 3).encode(),
        Ok(0x0100_0000_1234_5000)
    );
    // 512 pages: last index 511 = 0xFF80_0000_0000_0000.
    assert_eq!(
        HpaArray::root(0x000F_FFFF_FFFF_F000, 512).encode(),
        Ok(0xFF8F_FFFF_FFFF_F000)
    );
    assert_eq!(
        HpaArray::decode(0x0100_0000_1234_5000),
        Ok(HpaArray::root(0x1234_5000, 3))
    );
    // Bits 11:3 are reserved 0.
    assert!(HpaArray::decode(0x1234_5008).is_err());
    // Out of range: 513 pages, 0 pages, a PA above 51:12, an unaligned PA.
    assert!(HpaArray::root(0x1000, 513).encode().is_err());
    assert!(HpaArray::root(0x1000, 0).encode().is_err());
    assert!(HpaArray::singleton(0x0010_0000_0000_0000).encode().is_err());
    assert!(HpaArray::singleton(0x1800).encode().is_err());
}

#[test]
fn hpa_list_info() {
    // Root 0x8000, first entry 5 (11:3 → 0x28), 512 entries (63:55 = 511).
    let l = HpaListInfo {
        root: 0x8000,
        first: 5,
        count: 512,
    };
    assert_eq!(l.encode(), Ok(0xFF80_0000_0000_8028));
    assert_eq!(HpaListInfo::decode(0xFF80_0000_0000_8028), Ok(l));
    // As the host passes it: cursor 0.
    assert_eq!(HpaListInfo::new(0x8000, 1).encode(), Ok(0x8000));
    // No singleton form: count 1 still names a root.
    assert_eq!(HpaListInfo::decode(0x8000).map(|l| l.count), Ok(1));
}

#[test]
fn root_pages() {
    let page = encode(4096, |w| write_root_page(&[0x1000, 0x2000, 0x3000], w));
    assert_eq!(&page[..8], &[0x00, 0x10, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&page[8..16], &[0x00, 0x20, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&page[16..24], &[0x00, 0x30, 0, 0, 0, 0, 0, 0]);
    assert!(page[24..].iter().all(|b| *b == 0));
    let mut out = [0u64; 3];
    assert_eq!(read_root_page(&page, 3, &mut out), Ok(3));
    assert_eq!(out, [0x1000, 0x2000, 0x3000]);
    // A released list with an unaligned entry is refused.
    let mut bad = page.clone();
    bad[0] = 0x08;
    assert!(read_root_page(&bad, 1, &mut out).is_err());
}

#[test]
fn iommu_mt_root_page() {
    // Entries 0 and 1: IQ buffers, HPA | page count (Linux: 8 KiB, count 2); then pages.
    let mt = IommuMt {
        iq: [
            IqBuffer {
                pa: 0x10_0000,
                pages: 2,
            },
            IqBuffer {
                pa: 0x10_2000,
                pages: 2,
            },
        ],
        pages: &[0x20_0000, 0x20_1000],
    };
    let page = encode(4096, |w| mt.encode(w));
    let mut want = vec![0u8; 4096];
    want[..8].copy_from_slice(&0x10_0002u64.to_le_bytes());
    want[8..16].copy_from_slice(&0x10_2002u64.to_le_bytes());
    want[16..24].copy_from_slice(&0x20_0000u64.to_le_bytes());
    want[24..32].copy_from_slice(&0x20_1000u64.to_le_bytes());
    assert_eq!(page, want);
    let mut pages = [0u64; 2];
    assert_eq!(decode_iommu_mt(&page, 2, &mut pages), Ok(mt.iq));
    assert_eq!(pages, [0x20_0000, 0x20_1000]);
    // The SETUP/CLEAR parameter is the plain root PA, no count field.
    let r = IommuSetup {
        reg_base: 0xFED9_0000,
        iommu_mt: 0x30_0000,
    }
    .regs()
    .unwrap();
    assert_eq!(
        regs_of(&r),
        (128, [0xFED9_0000, 0x30_0000, 0, 0, 0, 0, 0, 0, 0])
    );
    // More than 510 metadata pages do not fit.
    let many = vec![0x1000u64; 511];
    let big = IommuMt {
        iq: mt.iq,
        pages: &many,
    };
    assert!(big.encode(&mut Writer::new(&mut vec![0u8; 8192])).is_err());
}

#[test]
fn function_id_and_stream_fields() {
    // OVMM: segment 7 with the valid bit, RID 0x1A2B.
    let f = FunctionId {
        rid: 0x1A2B,
        segment: 7,
        segment_valid: true,
    };
    assert_eq!(f.encode(), 0x0107_1A2B);
    assert_eq!(FunctionId::decode(0x0107_1A2B), Ok(f));
    // Linux: bit 24 only when the segment is nonzero.
    assert_eq!(FunctionId::linux(0, 0x0300).encode(), 0x0000_0300);
    assert_eq!(FunctionId::linux(1, 0x0300).encode(), 0x0101_0300);
    // stream_info: RP devfn 0x10 (dev 2 fn 0), selective (bit 8).
    let s = StreamInfo {
        rp_devfn: 0x10,
        kind: StreamType::Selective,
    };
    assert_eq!(s.encode(), 0x110);
    assert_eq!(
        StreamInfo::decode(0x010).map(|s| s.kind),
        Ok(StreamType::Link)
    );
}

#[test]
fn connect_config_page() {
    // Linux default: caps bit 14, policy 0, slot mask 0xFF, raw bitstream 0; rest zero.
    let page = encode(4096, |w| ConnectConfig::LINUX.encode(w));
    assert_eq!(&page[..7], &[0x00, 0x40, 0x00, 0x00, 0x00, 0xFF, 0x00]);
    assert!(page[7..].iter().all(|b| *b == 0));
    let mut p = vec![0u8; 4096];
    p[..7].copy_from_slice(&[0x00, 0x60, 0, 0, 0x02, 0x01, 0x01]);
    assert_eq!(
        ConnectConfig::decode(&p),
        Ok(ConnectConfig {
            caps: ConnectConfig::CAP_HEARTBEAT | ConnectConfig::CAP_KEY_UPDATE,
            session_policy: 2,
            cert_slot_mask: 1,
            raw_bitstream: 1,
        })
    );
    assert!(ConnectConfig::decode(&p[..6]).is_err());
}

#[test]
fn metadata_ids() {
    assert_eq!(metadata::MEMORY_POOL_REQUIRED_PAGES, 0x3100000100000000);
    assert_eq!(metadata::EXT_REQUIRED, 0x3100000100000001);
    assert_eq!(metadata::EXT_REQUIRED_EXT, 0x3100000000000001);
    assert_eq!(metadata::IDE_MT_PAGE_COUNT, 0x3000000100000001);
    assert_eq!(metadata::SPDM_MT_PAGE_COUNT, 0x3000000100000002);
    assert_eq!(metadata::IOMMU_MT_PAGE_COUNT, 0x3000000100000003);
    assert_eq!(metadata::SPDM_MAX_DEV_INFO_PAGES, 0x3000000100000007);
    assert_eq!(metadata::FEATURES0_TDX_CONNECT, 0x40);
    assert_eq!(metadata::FEATURES0_EXT, 0x80_0000_0000);
    assert_eq!(metadata::TDCS_CONFIG_FLAGS, 0x1110000300000016);
    assert_eq!(metadata::CONFIG_FLAGS_TDX_CONNECT, 0x20);
}

#[test]
fn leaf_registers() {
    let dev_info = HpaArray::root(0x9000, 2); // 0x0080_0000_0000_9000
    let cases: Vec<(Input, (u64, [u64; 9]))> = vec![
        (
            Input::SysConfig(SysConfig {
                tdmr_array_pa: 0x5000,
                tdmr_count: 3,
                global_keyid: 0x20,
                features: 0x40,
                wall_clock: 1_700_000_000,
            }),
            (0x1_002D, [0x5000, 3, 0x20, 0x40, 0, 1_700_000_000, 0, 0, 0]),
        ),
        (Input::ExtInit, (60, [0; 9])),
        (
            Input::ExtMemAdd(ExtMemAdd {
                list: HpaListInfo::new(0x7000, 512),
            }),
            (61, [0xFF80_0000_0000_7000, 0, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::IommuClear(IommuClear {
                iommu_id: 4,
                iommu_mt: 0x30_0000,
            }),
            (129, [4, 0x30_0000, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::SpdmCreate(SpdmCreate {
                function: FunctionId::linux(0, 0x0100),
                spdm_mt: HpaArray::root(0xA000, 4),
            }),
            (130, [0x0100, 0x0180_0000_0000_A000, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::SpdmDelete(SpdmDelete {
                spdm_id: 0x11,
                release: ReleaseBuffer::Root(0xA000),
            }),
            (131, [0x11, 0xA000, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::SpdmDelete(SpdmDelete {
                spdm_id: 0x11,
                release: ReleaseBuffer::Singleton,
            }),
            (131, [0x11, 0, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::IdeStreamCreate(IdeStreamCreate {
                stream_info: StreamInfo {
                    rp_devfn: 0x08,
                    kind: StreamType::Selective,
                },
                spdm_id: 0x11,
                ide_mt: HpaArray::singleton(0xB000),
                control: StreamControl::LINUX,
                rid_assoc: [0x0001_0000, 0x0001_0101],
                addr_assoc: [0xFFF0_0001, 0xFFFF_FFFF, 0],
            }),
            (
                132,
                [
                    0x108,
                    0x11,
                    0xB000,
                    0,
                    0x0001_0000,
                    0x0001_0101,
                    0xFFF0_0001,
                    0xFFFF_FFFF,
                    0,
                ],
            ),
        ),
        (
            Input::IdeStreamBlock(IdeStreamBlock {
                spdm_id: 0x11,
                stream_id: 2,
            }),
            (133, [0x11, 2, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::IdeStreamDelete(IdeStreamDelete {
                spdm_id: 0x11,
                stream_id: 2,
                release: ReleaseBuffer::Singleton,
            }),
            (134, [0x11, 2, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::IdeStreamKm(IdeStreamKm {
                spdm_id: 0x11,
                stream_id: 2,
                op: KmOp::Stop,
                response: 0xD000,
                request: 0xC000,
            }),
            (135, [0x11, 2, 2, 0xD000, 0xC000, 0, 0, 0, 0]),
        ),
        (
            Input::SpdmConnect(SpdmConnect {
                spdm_id: 0x11,
                config: 0xE000,
                response: 0xD000,
                request: 0xC000,
                dev_info,
            }),
            (
                142,
                [
                    0x11,
                    0xE000,
                    0xD000,
                    0xC000,
                    0x0080_0000_0000_9000,
                    0,
                    0,
                    0,
                    0,
                ],
            ),
        ),
        (
            Input::SpdmDisconnect(SpdmDisconnect {
                spdm_id: 0x11,
                response: 0xD000,
                request: 0xC000,
            }),
            (143, [0x11, 0xD000, 0xC000, 0, 0, 0, 0, 0, 0]),
        ),
        (
            Input::SpdmMng(SpdmMng {
                spdm_id: 0x11,
                op: MngOp::KeyUpdate,
                param: None,
                response: 0xD000,
                request: 0xC000,
                output: None,
            }),
            (144, [0x11, 1, ALL_ONES, 0xD000, 0xC000, ALL_ONES, 0, 0, 0]),
        ),
        (
            Input::SpdmMng(SpdmMng {
                spdm_id: 0x11,
                op: MngOp::DevInfoRecollection,
                param: Some(0xF000),
                response: 0xD000,
                request: 0xC000,
                output: Some(dev_info),
            }),
            (
                144,
                [
                    0x11,
                    2,
                    0xF000,
                    0xD000,
                    0xC000,
                    0x0080_0000_0000_9000,
                    0,
                    0,
                    0,
                ],
            ),
        ),
    ];
    for (input, want) in cases {
        let r = input.regs().unwrap();
        assert_eq!(regs_of(&r), want, "{input:?}");
        assert_eq!(Input::decode(&r), Ok(input));
    }
    // §1 op values.
    assert_eq!(
        [KmOp::Setup, KmOp::Refresh, KmOp::Stop].map(KmOp::to_u8),
        [0, 1, 2]
    );
    assert_eq!(
        [
            MngOp::Heartbeat,
            MngOp::KeyUpdate,
            MngOp::DevInfoRecollection
        ]
        .map(MngOp::to_u8),
        [0, 1, 2]
    );
    // A model refuses another version of a leaf, and unknown KM ops.
    let mut r = Input::ExtInit.regs().unwrap();
    r.rax = 1 << 16 | 60;
    assert_eq!(
        Input::decode(&r),
        Err(Error::UnsupportedVersion { version: 1 })
    );
    let mut r = Regs::with(Leaf::IdeStreamKm, &[1, 2, 3, 0xD000, 0xC000]);
    assert!(Input::decode(&r).is_err());
    r.r8 = 0;
    assert!(Input::decode(&r).is_ok());
}

#[test]
fn outputs() {
    let connect = Input::SpdmConnect(SpdmConnect {
        spdm_id: 1,
        config: 0xE000,
        response: 0xD000,
        request: 0xC000,
        dev_info: HpaArray::root(0x9000, 2),
    });
    // SUCCESS: RCX is the dev-info size, at most the pages given.
    assert_eq!(Output::decode(&connect, 5000, 0), Ok(Output::DevInfo(5000)));
    assert!(Output::decode(&connect, 8193, 0).is_err());
    let create = Input::SpdmCreate(SpdmCreate {
        function: FunctionId::linux(0, 1),
        spdm_mt: HpaArray::singleton(0x1000),
    });
    assert_eq!(Output::decode(&create, 0x77, 0), Ok(Output::SpdmId(0x77)));
    let stream = Input::decode(&Regs::with(Leaf::IdeStreamCreate, &[0x108, 1, 0x1000])).unwrap();
    assert_eq!(
        Output::decode(&stream, 3, 9),
        Ok(Output::Stream {
            stream_id: 3,
            rp_ide_id: 9
        })
    );
    let delete = Input::SpdmDelete(SpdmDelete {
        spdm_id: 1,
        release: ReleaseBuffer::Root(0xA000),
    });
    assert_eq!(
        Output::decode(&delete, 0x0180_0000_0000_A000, 0),
        Ok(Output::Released(HpaArray::root(0xA000, 4)))
    );
    assert!(Output::decode(&delete, 0xA001, 0).is_err());
}

#[test]
fn status_codes() {
    // §2 values.
    assert_eq!(Status::Success.code(), 0);
    assert_eq!(Status::InterruptedResumable.code(), 0x8000000300000000);
    assert_eq!(Status::SpdmRequest.code(), 0xC0000F5700000000);
    assert_eq!(Status::KeyRequireRefresh.code(), 0xC0000F4500000000);
    assert_eq!(Status::OperandBusy.code(), 0x8000020000000000);
    assert_eq!(Status::OperandInvalid.code(), 0xC000010000000000);
    // Full 64-bit compare for three codes, masked for OPERAND_INVALID.
    assert!(Status::decode(0xC0000F5700000001).is_err());
    assert!(Status::decode(0xC0000F4500000010).is_err());
    assert!(Status::decode(0x8000000300000004).is_err());
    assert_eq!(
        Status::decode(0xC0000100000000FF),
        Ok(Status::OperandInvalid)
    );
}

#[test]
fn classifier_table() {
    let s = |st: Status| st.code();
    let fail = |status, leak| Action::Fail { status, leak };
    let cases = [
        (Leaf::SpdmConnect, 0, Action::Done),
        (
            Leaf::SpdmConnect,
            s(Status::InterruptedResumable),
            Action::Resume,
        ),
        (Leaf::SpdmConnect, s(Status::SpdmRequest), Action::Relay),
        (
            Leaf::SpdmConnect,
            s(Status::KeyRequireRefresh),
            Action::KeyRefresh,
        ),
        (
            Leaf::SpdmDisconnect,
            s(Status::KeyRequireRefresh),
            Action::KeyRefresh,
        ),
        (Leaf::IdeStreamKm, s(Status::SpdmRequest), Action::Relay),
        (Leaf::SpdmMng, s(Status::OperandBusy), Action::Busy),
        (Leaf::SpdmMng, 0x8000020000000003, Action::Busy),
        (Leaf::IommuSetup, 0xC000010000000007, Action::Skip),
        (
            Leaf::IommuSetup,
            s(Status::InterruptedResumable),
            Action::Resume,
        ),
        (
            Leaf::IommuClear,
            s(Status::InterruptedResumable),
            Action::Resume,
        ),
        (
            Leaf::ExtInit,
            s(Status::InterruptedResumable),
            Action::Resume,
        ),
        (
            Leaf::ExtMemAdd,
            s(Status::InterruptedResumable),
            Action::Resume,
        ),
        // OPERAND_INVALID elsewhere fails.
        (
            Leaf::IommuClear,
            0xC000010000000007,
            fail(0xC000010000000007, true),
        ),
        (
            Leaf::SpdmConnect,
            0xC000010000000000,
            fail(0xC000010000000000, false),
        ),
        // SPDM_REQUEST with operand bits set is not SPDM_REQUEST (V2 compares all 64).
        (
            Leaf::SpdmConnect,
            0xC0000F5700000001,
            fail(0xC0000F5700000001, false),
        ),
        // A leaf that does not relay cannot ask for one.
        (
            Leaf::SpdmCreate,
            s(Status::SpdmRequest),
            fail(0xC0000F5700000000, false),
        ),
        // Failed DELETE, CLEAR or BLOCK leaks the metadata pages.
        (
            Leaf::SpdmDelete,
            0xC000000000000001,
            fail(0xC000000000000001, true),
        ),
        (
            Leaf::IdeStreamDelete,
            0xC000000000000001,
            fail(0xC000000000000001, true),
        ),
        (
            Leaf::IdeStreamBlock,
            0xC000000000000001,
            fail(0xC000000000000001, true),
        ),
        (
            Leaf::SpdmCreate,
            0xC000000000000001,
            fail(0xC000000000000001, false),
        ),
    ];
    for (leaf, rax, want) in cases {
        assert_eq!(classify(leaf, rax), want, "{leaf:?} {rax:#x}");
    }
}

#[test]
fn doe_relay_rewrite() {
    // Request page: DW0 vendor 0x0001, type 0x01 (CMA/SPDM); DW1 length 4 dwords; then
    // an 8-byte SPDM GET_VERSION padded to a dword (10 84 00 00 ...).
    let mut req = vec![0u8; 4096];
    req[..16].copy_from_slice(&[
        0x01, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x10, 0x84, 0x00, 0x00, 0, 0, 0, 0,
    ]);
    let r = RelayRequest::decode(&req).unwrap();
    assert_eq!(r.vendor_id, 1);
    assert_eq!(r.object_type, 1);
    // len * 4 − 8 bytes are sent.
    assert_eq!(r.payload, &[0x10, 0x84, 0, 0, 0, 0, 0, 0]);
    // The reply payload (12 bytes) goes at offset 8; DW1 = (12 + 8) / 4 = 5.
    let reply = [0x10, 0x04, 0, 0, 0, 0, 0, 1, 0, 0x12, 0, 0];
    let mut resp = vec![0xEEu8; 4096];
    let n = RelayResponse::to(&r, &reply)
        .encode(&mut Writer::new(&mut resp))
        .unwrap();
    assert_eq!(n, 20);
    assert_eq!(
        &resp[..8],
        &[0x01, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00]
    );
    assert_eq!(&resp[8..20], &reply);
    // The largest reply is 4088 bytes: DW1 = 1024.
    assert_eq!(MAX_PAYLOAD, 4088);
    let big = vec![0u8; 4088];
    RelayResponse::to(&r, &big)
        .encode(&mut Writer::new(&mut resp))
        .unwrap();
    assert_eq!(&resp[4..8], &[0x00, 0x04, 0x00, 0x00]);
    let too_big = vec![0u8; 4092];
    assert!(RelayResponse::to(&r, &too_big)
        .encode(&mut Writer::new(&mut vec![0u8; 8192]))
        .is_err());
    // A header declaring more than the page (1025 dwords) is refused.
    req[4..8].copy_from_slice(&1025u32.to_le_bytes());
    assert!(RelayRequest::decode(&req).is_err());
    // Length 0 means 2^18 dwords in DOE: far past the page.
    req[4..8].copy_from_slice(&0u32.to_le_bytes());
    assert!(RelayRequest::decode(&req).is_err());
}

#[test]
fn driver_walks() {
    let ret = |rax, rcx| Returned { rax, rcx, rdx: 0 };
    // EXT.MEM.ADD: re-issued with the output RCX (cursor advanced).
    let add = Input::ExtMemAdd(ExtMemAdd {
        list: HpaListInfo::new(0x7000, 512),
    });
    let (mut c, r) = LeafCall::start(add, None).unwrap();
    assert_eq!(r.rcx, 0xFF80_0000_0000_7000);
    let Next::Issue(r) = c.on_return(ret(
        Status::InterruptedResumable.code(),
        0xFF80_0000_0000_7000 | 100 << 3,
    )) else {
        panic!("not re-issued")
    };
    assert_eq!(r.rcx, 0xFF80_0000_0000_7320);
    // Going backwards is a protocol failure.
    assert!(matches!(
        c.on_return(ret(
            Status::InterruptedResumable.code(),
            0xFF80_0000_0000_7000 | 50 << 3
        )),
        Next::Failed(_)
    ));

    // IOMMU.SETUP: resumed with the original inputs, then OPERAND_INVALID skips.
    let setup = Input::IommuSetup(IommuSetup {
        reg_base: 0xFED9_0000,
        iommu_mt: 0x30_0000,
    });
    let (mut c, first) = LeafCall::start(setup, None).unwrap();
    assert_eq!(
        c.on_return(ret(Status::InterruptedResumable.code(), 0)),
        Next::Issue(first)
    );
    assert_eq!(c.on_return(ret(0xC000_0100_0000_0001, 0)), Next::Skip);

    // SPDM.CONNECT: relay twice, then SUCCESS with the dev-info size.
    let mut slot = ExtSlot::new();
    let connect = Input::SpdmConnect(SpdmConnect {
        spdm_id: 1,
        config: 0xE000,
        response: 0xD000,
        request: 0xC000,
        dev_info: HpaArray::singleton(0x9000),
    });
    let (mut c, first) = LeafCall::start(connect, slot.take()).unwrap();
    for _ in 0..2 {
        assert_eq!(
            c.on_return(ret(Status::SpdmRequest.code(), 16)),
            Next::Relay {
                request: 0xC000,
                response: 0xD000,
                request_len: 16
            }
        );
        assert_eq!(c.relayed(), Next::Issue(first));
    }
    assert_eq!(c.on_return(ret(0, 100)), Next::Done(Output::DevInfo(100)));
    assert!(c.ended());
    slot.give_back(c.finish().unwrap());
}

#[test]
fn guest_side() {
    use tsm_proto::tdx::guest::*;
    // §5 leaf numbers.
    assert_eq!(GuestLeaf::ALL.map(GuestLeaf::to_u16), [67, 68, 70, 71]);
    let f = FunctionId {
        rid: 0x1A2B,
        segment: 7,
        segment_valid: true,
    };
    // TDG.TDI.RD(2): RCX FUNCTION_ID, RDX field, R8 0.
    let rd = TdiRd {
        function: f,
        field: FIELD_TDISP_STATE,
        output_gpa: 0,
    };
    assert_eq!(rd.regs(), [67, 0x0107_1A2B, 2, 0]);
    assert_eq!(TdiState::from_reg(1), Ok(TdiState::ConfigLocked));
    assert_eq!(TdiState::from_reg(2), Ok(TdiState::Run));
    assert!(TdiState::from_reg(4).is_err());
    assert_eq!(
        TdiStart {
            function: f,
            bind_session_id: 0x55
        }
        .regs(),
        [68, 0x0107_1A2B, 0x55]
    );
    assert_eq!(
        DmarAccept {
            function: f,
            target_vm: 2
        }
        .regs(),
        Ok([70, 0x0107_1A2B, 2])
    );
    // TDG.MMIO.ACCEPT: RCX GPA | level, RDX range index, R8 FUNCTION_ID, R9 count | offset << 32.
    let m = MmioAccept {
        gpa: 0xF000_0000,
        level: 0,
        range_index: 1,
        function: f,
        page_count: 16,
        range_offset: 4,
    };
    assert_eq!(
        m.regs(),
        Ok([71, 0xF000_0000, 1, 0x0107_1A2B, 0x0000_0004_0000_0010])
    );
    assert_eq!(MmioAccept::remaining(0x0000_0008_0000_000C), (12, 8));
    // TDCALL error classes.
    assert_eq!(
        tdcall_error::class(0xC000_0F40_0000_0001),
        tdcall_error::TDI_NOT_PRESENT
    );
    // GHCI statuses of the TDCM VMCALL.
    assert_eq!(VmcallStatus::from_u64(1), Ok(VmcallStatus::Retry));
    assert_eq!(
        VmcallStatus::from_u64(0x8000_0000_0000_0002),
        Ok(VmcallStatus::AlignError)
    );
    // A TDCM GET_TDI_STATE reply, byte by byte from the §5 buffer table.
    let mut buf = vec![0u8; 4096];
    buf[..21].copy_from_slice(&[
        0x06, 0x00, // operation 6
        0x01, // version
        0, 0, 0, 0, 0,    // reserved
        0x02, // status ERROR
        0x0E, // error TDISP
        0, 0, 0, 0, 0, 0, // reserved
        0x01, 0x00, 0x00, 0x00, // data_length 1
        0x03, // data
    ]);
    let b = TdcmBuffer::decode(&buf).unwrap();
    assert_eq!(
        (b.op, b.version, b.status, b.error, b.data),
        (
            TdcmOp::GetTdiState,
            1,
            TdcmStatus::Error,
            Some(TdcmError::Tdisp),
            &[3u8][..]
        )
    );
    assert_eq!(TdcmOp::ALL.map(TdcmOp::to_u16), [1, 2, 3, 4, 5, 6, 7]);
}
