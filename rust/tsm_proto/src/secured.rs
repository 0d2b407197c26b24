// SPDX-License-Identifier: GPL-2.0

//! SPDM secured messages (DSP0277 1.x) over the PCIe DOE binding (PCIe 6.x §6.31.4,
//! Secured CMA/SPDM, data object type 2), and the SPDM key schedule as data
//! (DSP0274 1.3.0 §12).
//!
//! Record layout with an AEAD session (DSP0277 §6 "Secured message format"):
//!
//! | field | size |
//! |---|---|
//! | SessionID (ReqSessionID, RspSessionID) | 4 |
//! | SequenceNumber | transport defined: **0 bytes for PCIe DOE** |
//! | Length (of everything after it: ciphertext + MAC) | 2 |
//! | encrypted: ApplicationDataLength (u16), ApplicationData (an SPDM message), RandomData | n |
//! | MAC (AEAD tag) | 16 |
//!
//! The AAD is the record header (SessionID, wire SequenceNumber, Length). The AEAD nonce
//! is the per-direction IV XORed with the 64-bit sequence number, little-endian, in the
//! IV's low eight bytes (DSP0277 §6.x "AEAD nonce"). The sequence number counts records
//! per direction from 0 and is kept by the caller even though PCIe does not send it.
//!
//! The cryptography is the caller's: an [`Aead`] seals and opens in place, an [`Hkdf`]
//! runs extract/expand. This module lays out bytes, derives nonces and builds the
//! `BinConcat` info strings.

use super::codec::{len_field, Error, Reader, Result, Writer};
use super::spdm::Version;

/// Size of the SequenceNumber field on the wire for the PCIe DOE binding.
pub const PCIE_SEQ_NUM_WIRE_LEN: usize = 0;
/// Size of the record header (SessionID + Length) for PCIe DOE.
pub const HEADER_LEN: usize = 4 + PCIE_SEQ_NUM_WIRE_LEN + 2;
/// Size of the AEAD tag (all SPDM AEAD suites use 16 bytes).
pub const TAG_LEN: usize = 16;
/// Size of the AEAD nonce / IV (all SPDM AEAD suites use 12 bytes).
pub const IV_LEN: usize = 12;
/// Size of ApplicationDataLength.
pub const APP_LEN_LEN: usize = 2;
/// Smallest valid record: header, ApplicationDataLength, tag.
pub const MIN_RECORD_LEN: usize = HEADER_LEN + APP_LEN_LEN + TAG_LEN;

/// The session ID of a session: ReqSessionID in the low half, RspSessionID in the high
/// half, so the wire bytes are ReqSessionID then RspSessionID (DSP0274 1.3.0 §10.14).
pub const fn session_id(req_session_id: u16, rsp_session_id: u16) -> u32 {
    (req_session_id as u32) | ((rsp_session_id as u32) << 16)
}

/// The AEAD nonce for `seq`: `iv` XOR the sequence number (u64, little-endian) in the
/// first eight bytes.
pub fn nonce(iv: &[u8; IV_LEN], seq: u64) -> [u8; IV_LEN] {
    let mut n = *iv;
    for (b, s) in n.iter_mut().zip(seq.to_le_bytes()) {
        *b ^= s;
    }
    n
}

/// An AEAD cipher with its key already set (AES-GCM, ChaCha20-Poly1305, SM4-GCM).
pub trait Aead {
    /// Encrypts `in_out` in place and writes the tag.
    fn seal(
        &mut self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<()>;

    /// Checks the tag and decrypts `in_out` in place; fails (e.g. with
    /// `Error::InvalidField { field: "secured.mac", .. }`) if the tag does not verify.
    fn open(
        &mut self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()>;
}

/// A secured record split into its parts, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecuredRecord<'a> {
    /// SessionID.
    pub session_id: u32,
    /// The header bytes, which are the AAD.
    pub header: &'a [u8],
    /// The encrypted ApplicationDataLength, ApplicationData and RandomData.
    pub ciphertext: &'a [u8],
    /// The MAC.
    pub tag: [u8; TAG_LEN],
}

impl<'a> SecuredRecord<'a> {
    /// Splits a record that fills `buf` exactly.
    pub fn split(buf: &'a [u8]) -> Result<Self> {
        Self::split_with(buf, false)
    }

    /// Splits a record followed by up to three zero bytes of DOE padding.
    pub fn split_padded(buf: &'a [u8]) -> Result<Self> {
        Self::split_with(buf, true)
    }

    fn split_with(buf: &'a [u8], pad_ok: bool) -> Result<Self> {
        let mut r = Reader::new(buf);
        let header = r.clone().bytes(HEADER_LEN)?;
        let session_id = r.u32()?;
        r.skip(PCIE_SEQ_NUM_WIRE_LEN)?;
        let length = usize::from(r.u16()?);
        if length < APP_LEN_LEN + TAG_LEN {
            return Err(Error::InvalidField {
                field: "secured.length",
                value: length as u64,
            });
        }
        if length > r.remaining() {
            return Err(Error::LengthMismatch {
                field: "secured.length",
                declared: length,
                actual: r.remaining(),
            });
        }
        let ciphertext = r.bytes(length - TAG_LEN)?;
        let tag = r.array()?;
        let left = r.remaining();
        if left != 0 {
            let zeros = r.rest().iter().all(|&b| b == 0);
            if !(pad_ok && left < 4 && zeros) {
                return Err(Error::TrailingBytes { count: left });
            }
        }
        Ok(Self {
            session_id,
            header,
            ciphertext,
            tag,
        })
    }

    /// Encoded length of the record.
    pub fn len(&self) -> usize {
        self.header
            .len()
            .saturating_add(self.ciphertext.len())
            .saturating_add(TAG_LEN)
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Re-encodes the record as split (header recomputed from the parts).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let length = record_length(self.ciphertext.len())?;
        put_record_header(w, self.session_id, length)?;
        w.bytes(self.ciphertext)?;
        w.bytes(&self.tag)
    }

    /// Authenticates and decrypts the record into `scratch` and returns the
    /// ApplicationData (the inner SPDM message) as a slice of `scratch`.
    pub fn open<'s, A: Aead + ?Sized>(
        &self,
        aead: &mut A,
        iv: &[u8; IV_LEN],
        seq: u64,
        scratch: &'s mut [u8],
    ) -> Result<&'s [u8]> {
        let n = self.ciphertext.len();
        let buf = scratch
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { needed: n })?;
        buf.copy_from_slice(self.ciphertext);
        aead.open(&nonce(iv, seq), self.header, buf, &self.tag)?;
        let plain: &'s [u8] = buf;
        let mut r = Reader::new(plain);
        let app_len = usize::from(r.u16()?);
        r.bytes(app_len).map_err(|_| Error::LengthMismatch {
            field: "secured.application_data_length",
            declared: app_len,
            actual: n.saturating_sub(APP_LEN_LEN),
        })
    }
}

/// Writes a record header: SessionID, the SequenceNumber (nothing for PCIe DOE), Length.
fn put_record_header(w: &mut Writer<'_>, session_id: u32, length: u16) -> Result<()> {
    w.u32(session_id)?;
    w.zeros(PCIE_SEQ_NUM_WIRE_LEN)?;
    w.u16(length)
}

fn record_length(ciphertext_len: usize) -> Result<u16> {
    ciphertext_len
        .checked_add(TAG_LEN)
        .and_then(|l| u16::try_from(l).ok())
        .filter(|&l| usize::from(l) >= APP_LEN_LEN + TAG_LEN)
        .ok_or(Error::InvalidField {
            field: "secured.length",
            value: ciphertext_len as u64,
        })
}

/// Builds and seals one record into `out`: header, ApplicationDataLength, `app` (the SPDM
/// message), `padding` (caller-chosen random bytes, may be empty), tag. Returns the record
/// length.
pub fn seal_record<A: Aead + ?Sized>(
    aead: &mut A,
    iv: &[u8; IV_LEN],
    seq: u64,
    session_id: u32,
    app: &[u8],
    padding: &[u8],
    out: &mut [u8],
) -> Result<usize> {
    let app_len: u16 = len_field("secured.application_data_length", app.len())?;
    let ct_len = APP_LEN_LEN
        .checked_add(app.len())
        .and_then(|v| v.checked_add(padding.len()))
        .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    let length = record_length(ct_len)?;
    let total = HEADER_LEN + usize::from(length);
    let too_small = Error::BufferTooSmall { needed: total };
    // The record is the header and the plaintext, written in place, then the tag.
    let (plain, tag) = out
        .get_mut(..total)
        .and_then(|rec| rec.split_at_mut_checked(HEADER_LEN + ct_len))
        .ok_or(too_small)?;
    let mut w = Writer::new(plain);
    put_record_header(&mut w, session_id, length)?;
    w.u16(app_len)?;
    w.bytes(app)?;
    w.bytes(padding)?;
    let (header, ct) = plain.split_at_mut_checked(HEADER_LEN).ok_or(too_small)?;
    let tag: &mut [u8; TAG_LEN] = tag.try_into().map_err(|_| too_small)?;
    aead.seal(&nonce(iv, seq), header, ct, tag)?;
    Ok(total)
}

/// HKDF (RFC 5869) over the negotiated hash, supplied by a crypto provider.
pub trait Hkdf {
    /// HKDF-Extract(salt, ikm) into `prk` (hash-size bytes).
    fn extract(&mut self, salt: &[u8], ikm: &[u8], prk: &mut [u8]) -> Result<()>;
    /// HKDF-Expand(prk, info) filling `okm`.
    fn expand(&mut self, prk: &[u8], info: &[u8], okm: &mut [u8]) -> Result<()>;
}

/// HKDF-Expand labels of the SPDM key schedule (DSP0274 1.3.0 §12, Table "Key schedule
/// bin_str definitions").
pub mod label {
    /// bin_str0: Salt_1 derivation from the handshake secret.
    pub const DERIVED: &[u8] = b"derived";
    /// bin_str1: request-direction handshake secret (context TH1).
    pub const REQ_HS_DATA: &[u8] = b"req hs data";
    /// bin_str2: response-direction handshake secret (context TH1).
    pub const RSP_HS_DATA: &[u8] = b"rsp hs data";
    /// bin_str3: request-direction data secret (context TH2).
    pub const REQ_APP_DATA: &[u8] = b"req app data";
    /// bin_str4: response-direction data secret (context TH2).
    pub const RSP_APP_DATA: &[u8] = b"rsp app data";
    /// bin_str5: encryption key of a secret.
    pub const KEY: &[u8] = b"key";
    /// bin_str6: IV of a secret.
    pub const IV: &[u8] = b"iv";
    /// bin_str7: finished key of a handshake secret.
    pub const FINISHED: &[u8] = b"finished";
    /// bin_str8: export master secret (context TH2).
    pub const EXP_MASTER: &[u8] = b"exp master";
    /// bin_str9: next-generation data secret on KEY_UPDATE.
    pub const TRAFFIC_UPD: &[u8] = b"traffic upd";
}

/// Longest label.
const MAX_LABEL: usize = 12;
/// Longest hash (and so context) an SPDM suite uses.
pub const MAX_HASH_LEN: usize = 64;
/// Longest BinConcat output.
pub const MAX_BIN_CONCAT_LEN: usize = 2 + 8 + MAX_LABEL + MAX_HASH_LEN;

/// Encodes `BinConcat(Length, Version, Label, Context)` (DSP0274 1.3.0 §12.1): Length as
/// u16 little-endian, the version label `"spdm1.2 "`/`"spdm1.3 "`, the label, the context
/// (a transcript hash, or nothing).
pub fn bin_concat(
    w: &mut Writer<'_>,
    length: u16,
    version: Version,
    label: &[u8],
    context: &[u8],
) -> Result<()> {
    w.u16(length)?;
    w.bytes(version.label())?;
    w.bytes(label)?;
    w.bytes(context)
}

/// HKDF-Expand(`secret`, BinConcat(out.len(), version, label, context)) into `out`.
pub fn expand_label<H: Hkdf + ?Sized>(
    hkdf: &mut H,
    secret: &[u8],
    version: Version,
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let length = len_field("secured.expand_length", out.len())?;
    let mut info = [0u8; MAX_BIN_CONCAT_LEN];
    let mut w = Writer::new(&mut info);
    bin_concat(&mut w, length, version, label, context)?;
    let n = w.finish();
    let info = info.get(..n).ok_or(Error::BufferTooSmall { needed: n })?;
    hkdf.expand(secret, info, out)
}

/// A value in the key schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Salt_0: `H` zero bytes.
    Salt0,
    /// The DHE shared secret (or the PSK).
    SharedSecret,
    /// HandshakeSecret = HKDF-Extract(Salt_0, shared secret).
    Handshake,
    /// request_handshake_secret.
    ReqHandshake,
    /// response_handshake_secret.
    RspHandshake,
    /// Salt_1.
    Salt1,
    /// 0_filled: `H` zero bytes.
    ZeroFilled,
    /// MasterSecret = HKDF-Extract(Salt_1, 0_filled).
    Master,
    /// request_data_secret.
    ReqData,
    /// response_data_secret.
    RspData,
    /// export_master_secret.
    ExportMaster,
}

/// Context of an expand step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// No context.
    None,
    /// TH1 (the transcript hash at `spdm::transcript::Point::Th1`).
    Th1,
    /// TH2.
    Th2,
}

/// One step of the key schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `output = HKDF-Extract(salt, ikm)`.
    Extract {
        /// Output.
        output: Secret,
        /// Salt.
        salt: Secret,
        /// Input keying material.
        ikm: Secret,
    },
    /// `output = HKDF-Expand(secret, BinConcat(H, version, label, context), H)`.
    Expand {
        /// Output.
        output: Secret,
        /// PRK.
        secret: Secret,
        /// Label.
        label: &'static [u8],
        /// Context.
        context: Context,
    },
}

/// The ordered key schedule from the shared secret to the data secrets (DSP0274 1.3.0
/// §12, Figure "Key schedule"). Handshake secrets need TH1, data secrets TH2.
pub const KEY_SCHEDULE: [Step; 8] = [
    Step::Extract {
        output: Secret::Handshake,
        salt: Secret::Salt0,
        ikm: Secret::SharedSecret,
    },
    Step::Expand {
        output: Secret::ReqHandshake,
        secret: Secret::Handshake,
        label: label::REQ_HS_DATA,
        context: Context::Th1,
    },
    Step::Expand {
        output: Secret::RspHandshake,
        secret: Secret::Handshake,
        label: label::RSP_HS_DATA,
        context: Context::Th1,
    },
    Step::Expand {
        output: Secret::Salt1,
        secret: Secret::Handshake,
        label: label::DERIVED,
        context: Context::None,
    },
    Step::Extract {
        output: Secret::Master,
        salt: Secret::Salt1,
        ikm: Secret::ZeroFilled,
    },
    Step::Expand {
        output: Secret::ReqData,
        secret: Secret::Master,
        label: label::REQ_APP_DATA,
        context: Context::Th2,
    },
    Step::Expand {
        output: Secret::RspData,
        secret: Secret::Master,
        label: label::RSP_APP_DATA,
        context: Context::Th2,
    },
    Step::Expand {
        output: Secret::ExportMaster,
        secret: Secret::Master,
        label: label::EXP_MASTER,
        context: Context::Th2,
    },
];

/// Length of a per-secret derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutLen {
    /// `H` bytes.
    Hash,
    /// The AEAD key size.
    Key,
    /// The AEAD IV size (12).
    Iv,
}

/// A derivation applied to one directional secret (no context): `(label, length)`.
pub type SecretDerivation = (&'static [u8], OutLen);

/// From a handshake or data secret: its AEAD key and IV (bin_str5, bin_str6).
pub const TRAFFIC_KEYS: [SecretDerivation; 2] =
    [(label::KEY, OutLen::Key), (label::IV, OutLen::Iv)];
/// From a handshake secret: the finished key used for VerifyData HMACs (bin_str7).
pub const FINISHED_KEY: SecretDerivation = (label::FINISHED, OutLen::Hash);
/// KEY_UPDATE: the next data secret of a direction (bin_str9); key and IV are then
/// derived again with [`TRAFFIC_KEYS`] and the sequence number restarts at 0.
pub const TRAFFIC_UPDATE: SecretDerivation = (label::TRAFFIC_UPD, OutLen::Hash);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_xors_le_sequence_number() {
        let iv = [0u8; IV_LEN];
        assert_eq!(
            nonce(&iv, 0x0102_0304_0506_0708),
            [8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn bin_concat_golden() {
        // DSP0274 1.2.0 §12.1: BinConcat(32, "spdm1.2 ", "key", none) =
        // 20 00 "spdm1.2 " "key".
        let mut b = [0u8; 16];
        let mut w = Writer::new(&mut b);
        bin_concat(&mut w, 32, Version::V12, label::KEY, &[]).unwrap();
        assert_eq!(w.finish(), 13);
        assert_eq!(&b[..13], b"\x20\x00spdm1.2 key");
    }

    #[test]
    fn short_length_is_refused() {
        let b = [1, 0, 0, 0, 17, 0];
        assert!(SecuredRecord::split(&b).is_err());
    }
}
