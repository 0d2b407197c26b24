// SPDX-License-Identifier: GPL-2.0

//! Support shared by the integration tests (`mod common;`) and the fuzz targets (which
//! include this file with `#[path]`): encoding into an owned buffer and the length rules
//! every decoder is held to. A failed check panics, naming the input.

// Every test binary and fuzz target uses only part of this.
#![allow(dead_code)]

use tsm_proto::codec::{Error, Result, Writer};

/// The bytes `encode` writes into a buffer of `cap` bytes; an encoding error is a failure.
pub fn encoded(cap: usize, encode: impl FnOnce(&mut Writer<'_>) -> Result<()>) -> Vec<u8> {
    let mut buf = vec![0u8; cap];
    let mut w = Writer::new(&mut buf);
    encode(&mut w).expect("encode");
    let n = w.finish();
    buf.truncate(n);
    buf
}

/// Asserts that `decode` (returning the error it fails with, if any) refuses every proper
/// prefix of `v`.
pub fn assert_prefixes_refused(v: &[u8], decode: impl Fn(&[u8]) -> Option<Error>) {
    for n in 0..v.len() {
        assert!(decode(&v[..n]).is_some(), "len {n} of {v:02x?}");
    }
}

/// Asserts that `decode` takes exactly `v`: every proper prefix is refused, and so is `v`
/// followed by one more byte, as one trailing byte.
pub fn assert_exact_length(v: &[u8], decode: impl Fn(&[u8]) -> Option<Error>) {
    assert_prefixes_refused(v, &decode);
    let mut longer = v.to_vec();
    longer.push(0);
    assert_eq!(
        decode(&longer),
        Some(Error::TrailingBytes { count: 1 }),
        "{v:02x?} and one more byte"
    );
}
