// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the `/dev/tsm_fw` decoders, above all that of the firmware's messages, which
//! the kernel runs on whatever a root process writes: any bytes decode or fail with a
//! typed error; a decoded message re-encodes to as many bytes, which decode to the same
//! message; the stream peeks agree with the decoded header.
//!
//! Run from rust/tsm_proto with the stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run fwmsg -- -max_total_time=120`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::fwmsg::{declared_len, declared_req_id, Cmd, Message, Msg};

fn check<'a, M>(data: &'a [u8], out: &'a mut [u8])
where
    M: Message<'a> + PartialEq + core::fmt::Debug,
{
    if let Ok((req_id, m)) = M::decode(data) {
        assert_eq!(declared_len(data), Some(data.len()));
        assert_eq!(declared_req_id(data), Some(req_id));
        assert_eq!(m.encoded_len(), data.len());
        let n = m
            .encode(req_id, out)
            .expect("re-encode of a decoded message");
        assert_eq!(n, data.len());
        assert_eq!(M::decode(&out[..n]).expect("re-decode"), (req_id, m));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0u8; data.len()];
    check::<Msg<'_>>(data, &mut out);
    check::<Cmd<'_>>(data, &mut out);
});
