// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the TDX Connect sequencing: a byte stream drives one leaf call (arbitrary
//! statuses and outputs, relays done or failed) and the connect, platform and
//! provisional bind sequencers (arbitrary results, skips, teardowns and out-of-order
//! steps). Nothing panics; a refused step changes nothing; every walk ends in a rest
//! phase within its step count; the extension slot is taken exactly while a call that
//! needs it is alive, and a key refresh only ever issues SPDM.MNG under the caller's
//! ticket.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tdx::provisional::BindStep;
use tsm_proto::tdx::*;

const CODES: [u64; 8] = [
    0,
    0x8000_0003_0000_0000,
    0xC000_0F57_0000_0000,
    0xC000_0F45_0000_0000,
    0x8000_0200_0000_0000,
    0xC000_0100_0000_0000,
    0xC000_0000_0000_0001,
    0x8000_0003_0000_0001,
];

fn inputs() -> [Input; 4] {
    [
        Input::SpdmConnect(SpdmConnect {
            spdm_id: 1,
            config: 0x4000,
            response: 0x5000,
            request: 0x6000,
            dev_info: HpaArray::singleton(0x7000),
        }),
        Input::IdeStreamKm(IdeStreamKm {
            spdm_id: 1,
            stream_id: 2,
            op: KmOp::Setup,
            response: 0x5000,
            request: 0x6000,
        }),
        Input::ExtMemAdd(ExtMemAdd {
            list: HpaListInfo::new(0x8000, 512),
        }),
        Input::IommuSetup(IommuSetup {
            reg_base: 0xFED9_0000,
            iommu_mt: 0x9000,
        }),
    ]
}

fn walk<P: Plan>(bytes: &[u8]) {
    let mut s = Sequencer::<P>::new();
    for &b in bytes {
        let before = s;
        let all: Vec<P> = P::FORWARD.iter().chain(P::TEARDOWN).copied().collect();
        let pick = all[usize::from(b >> 2) % all.len()];
        let r = match b & 3 {
            0 => s.next().map_or(Ok(s), |st| s.complete(st, StepResult::Ok)),
            1 => s
                .next()
                .map_or(Ok(s), |st| s.complete(st, StepResult::Failed)),
            2 => s.complete(pick, StepResult::Ok),
            _ => {
                if b & 4 == 0 {
                    s.teardown()
                } else {
                    s.skip(pick)
                }
            }
        };
        match r {
            Ok(n) => s = n,
            Err(_) => assert_eq!(s, before, "a refusal changed the walk"),
        }
        if s.next().is_none() {
            assert!(matches!(
                s.phase(),
                Phase::Up | Phase::RolledBack | Phase::Down
            ));
        }
    }
    // Finishing with successes always reaches a rest phase within the list lengths.
    let mut n = 0;
    while let Some(st) = s.next() {
        s = s
            .complete(st, StepResult::Ok)
            .expect("the due step is accepted");
        n += 1;
        assert!(n <= P::FORWARD.len() + P::TEARDOWN.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (call_bytes, seq_bytes) = rest.split_at(rest.len() / 2);

    let input = inputs()[usize::from(sel & 3)];
    let mut slot = ExtSlot::new();
    let (mut c, _) = LeafCall::start(input, slot.take()).expect("starts with a ticket");
    for chunk in call_bytes.chunks(9) {
        if c.ended() {
            break;
        }
        let k = chunk.first().copied().unwrap_or(0);
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(chunk.iter().skip(1)) {
            *d = *s;
        }
        let rcx = u64::from_le_bytes(w);
        let rax = if k & 0x80 != 0 {
            rcx
        } else {
            CODES[usize::from(k & 7)]
        };
        let next = match c.on_return(Returned {
            rax,
            rcx,
            rdx: rcx.rotate_left(7),
        }) {
            Next::Relay {
                request, response, ..
            } => {
                assert_eq!(input.message_pages(), Some((response, request)));
                if k & 0x40 != 0 {
                    c.relay_failed()
                } else {
                    c.relayed()
                }
            }
            n => n,
        };
        assert!(!slot.is_free());
        if let Next::Issue(r) = next {
            let again = Input::decode(&r).expect("issued registers decode");
            if c.refreshing() {
                assert_eq!(again.leaf(), Leaf::SpdmMng);
            } else {
                assert_eq!(again.leaf(), input.leaf());
            }
        }
        assert!(c.rounds() <= LeafCall::MAX_ROUNDS);
    }
    slot.give_back(c.finish().expect("ticket kept"));
    assert!(slot.is_free());

    match sel >> 6 {
        0 => walk::<LinkStep>(seq_bytes),
        1 => walk::<PlatformStep>(seq_bytes),
        _ => walk::<BindStep>(seq_bytes),
    }
});
