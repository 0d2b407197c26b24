// SPDX-License-Identifier: GPL-2.0

//! Support shared by the integration tests (`mod common;`) and the fuzz targets (which
//! include this file with `#[path]`): encoding into an owned buffer, the length rules
//! every decoder is held to, and a stand-in AEAD. A failed check panics, naming the input.

// Every test binary and fuzz target uses only part of this.
#![allow(dead_code)]

use tsm_proto::codec::{Error, Result, Writer};
use tsm_proto::secured::{Aead, IV_LEN, TAG_LEN};

/// The bytes `encode` writes into a buffer of `cap` bytes; an encoding error is a failure.
pub fn encoded(cap: usize, encode: impl FnOnce(&mut Writer<'_>) -> Result<()>) -> Vec<u8> {
    let mut buf = vec![0u8; cap];
    let mut w = Writer::new(&mut buf);
    encode(&mut w).expect("encode");
    let n = w.finish();
    buf.truncate(n);
    buf
}

/// Asserts the round trip of the decoder `$decode` (bytes to `Result` of a value with an
/// `encode(&self, &mut Writer)`) on the bytes `$data`: if it accepts them, the value
/// re-encodes to exactly as many bytes, which decode to it again. (A macro, not a
/// function, because the value borrows from the bytes it was decoded from.)
#[allow(unused_macros)]
macro_rules! assert_round_trip {
    ($decode:path, $data:expr) => {{
        let data: &[u8] = $data;
        if let Ok(m) = $decode(data) {
            let b = $crate::common::encoded(data.len(), |w| m.encode(w));
            assert_eq!(b.len(), data.len(), "re-encoded length of {data:02x?}");
            assert_eq!($decode(&b), Ok(m), "re-decoded {data:02x?}");
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use assert_round_trip;

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

/// A stand-in [`Aead`] for the secured-record layout, not a cipher: it "encrypts" by
/// XORing every byte with the nonce's first byte (with `xor_nonce`; otherwise the data
/// stays in the clear), and its tag is `tag(aad)` in every byte.
pub struct ToyAead {
    /// XOR the data with the nonce's first byte.
    pub xor_nonce: bool,
    /// The byte the tag is filled with, from the AAD.
    pub tag: fn(&[u8]) -> u8,
    /// Whether `open` refuses a tag other than the one `seal` writes, as a real AEAD does.
    pub check_tag: bool,
}

impl ToyAead {
    /// Plaintext in the clear and a tag of `7Ah` bytes, so golden bytes show the layout.
    pub fn clear() -> Self {
        Self {
            xor_nonce: false,
            tag: |_| 0x7a,
            check_tag: true,
        }
    }

    /// XOR with the nonce and a tag that is the byte sum of the AAD, so golden bytes show
    /// which nonce and AAD the record code passed.
    pub fn xor_aad_sum() -> Self {
        Self {
            xor_nonce: true,
            tag: |aad| aad.iter().fold(0u8, |a, b| a.wrapping_add(*b)),
            check_tag: true,
        }
    }

    fn xor(&self, nonce: &[u8; IV_LEN], data: &mut [u8]) {
        if self.xor_nonce {
            data.iter_mut().for_each(|b| *b ^= nonce[0]);
        }
    }
}

impl Aead for ToyAead {
    fn seal(
        &mut self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<()> {
        self.xor(nonce, data);
        tag.fill((self.tag)(aad));
        Ok(())
    }

    fn open(
        &mut self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let want = (self.tag)(aad);
        if self.check_tag && tag.iter().any(|&t| t != want) {
            return Err(Error::InvalidField {
                field: "secured.mac",
                value: 0,
            });
        }
        self.xor(nonce, data);
        Ok(())
    }
}
