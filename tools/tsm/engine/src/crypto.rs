// SPDX-License-Identifier: GPL-2.0

//! The one cipher suite both engines speak, from RustCrypto crates: ECDSA P-384 with
//! SHA-384 (BaseAsymAlgo/BaseHashAlgo), ECDHE secp384r1, AES-256-GCM and the SPDM key
//! schedule on HKDF-SHA-384.
//!
//! Nothing here is hand-rolled: signing, verification, ECDH, HMAC, HKDF and AEAD are the
//! crates' own. This module adapts them to the traits of `tsm_proto::secured` and
//! `tsm_proto::spdm::transcript`, builds the SPDM 1.2 signing prefix (DSP0274 1.2 §15
//! "Signature generation": `combined_spdm_prefix || message_hash`), and times every
//! operation so the benchmark can split crypto cost from the rest.

use std::cell::Cell;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit};
use hmac::{Hmac, Mac};
use p384::ecdsa::signature::{Signer, Verifier};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha384};
use tsm_proto::codec;
use tsm_proto::secured::{self, Aead, Hkdf, IV_LEN, TAG_LEN};
use tsm_proto::spdm::algo;
use tsm_proto::spdm::transcript::TranscriptHash;
use tsm_proto::spdm::Version;

/// `H`: SHA-384 digest size.
pub const HASH_LEN: usize = 48;
/// `S`: ECDSA P-384 signature size (r || s).
pub const SIG_LEN: usize = 96;
/// `D`: secp384r1 exchange data size (X || Y).
pub const DHE_LEN: usize = 96;
/// AES-256-GCM key size.
pub const KEY_LEN: usize = 32;

/// BaseAsymSel of the suite.
pub const BASE_ASYM: u32 = algo::asym::ECDSA_P384;
/// BaseHashSel of the suite.
pub const BASE_HASH: u32 = algo::hash::SHA_384;
/// MeasurementHashAlgo of the suite.
pub const MEAS_HASH: u32 = algo::meas_hash::SHA_384;
/// DHE group of the suite.
pub const DHE_GROUP: u16 = algo::dhe::SECP384R1;
/// AEAD suite.
pub const AEAD_SUITE: u16 = algo::aead::AES_256_GCM;

/// A SHA-384 digest.
pub type Digest48 = [u8; HASH_LEN];

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A public key or point did not decode.
    #[error("bad public key")]
    BadKey,
    /// A signature did not decode or did not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// An HMAC (VerifyData) did not match.
    #[error("HMAC does not match")]
    BadMac,
    /// AEAD open failed (tag mismatch).
    #[error("AEAD tag does not verify")]
    BadTag,
    /// A length did not fit the algorithm.
    #[error("bad length for {0}")]
    BadLength(&'static str),
}

thread_local! {
    static CRYPTO_TIME: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Runs `f`, adding its duration to this thread's crypto time account.
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let d = t.elapsed();
    CRYPTO_TIME.with(|c| c.set(c.get() + d));
    out
}

/// Time this thread has spent in cryptographic primitives since the last reset.
pub fn crypto_time() -> Duration {
    CRYPTO_TIME.with(Cell::get)
}

/// Resets this thread's crypto time account.
pub fn reset_crypto_time() {
    CRYPTO_TIME.with(|c| c.set(Duration::ZERO));
}

/// Fills `buf` from the operating system's random source.
pub fn random(buf: &mut [u8]) {
    timed(|| OsRng.fill_bytes(buf));
}

/// `N` random bytes.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    random(&mut b);
    b
}

/// SHA-384 of `data`.
pub fn sha384(data: &[u8]) -> Digest48 {
    timed(|| Sha384::digest(data).into())
}

/// A running SHA-384, usable as a transcript hash.
#[derive(Clone, Default)]
pub struct Hasher(Sha384);

impl Hasher {
    /// A fresh hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) {
        timed(|| self.0.update(data));
    }

    /// The digest so far (the running hash is left untouched).
    pub fn digest(&self) -> Digest48 {
        timed(|| self.0.clone().finalize().into())
    }
}

impl TranscriptHash for Hasher {
    fn update(&mut self, data: &[u8]) {
        Hasher::update(self, data);
    }
}

/// HMAC-SHA-384(key, data).
pub fn hmac(key: &[u8], data: &[u8]) -> Digest48 {
    timed(|| {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = match <Hmac<Sha384> as Mac>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => return [0u8; HASH_LEN],
        };
        m.update(data);
        m.finalize().into_bytes().into()
    })
}

/// Constant-time comparison of an expected HMAC with a received one.
pub fn hmac_verify(key: &[u8], data: &[u8], got: &[u8]) -> Result<(), CryptoError> {
    timed(|| {
        let mut m = <Hmac<Sha384> as Mac>::new_from_slice(key).map_err(|_| CryptoError::BadMac)?;
        m.update(data);
        m.verify_slice(got).map_err(|_| CryptoError::BadMac)
    })
}

/// HKDF over SHA-384 for the key schedule.
#[derive(Debug, Default, Clone, Copy)]
pub struct HkdfSha384;

impl Hkdf for HkdfSha384 {
    fn extract(&mut self, salt: &[u8], ikm: &[u8], prk: &mut [u8]) -> codec::Result<()> {
        let (p, _) = timed(|| hkdf::Hkdf::<Sha384>::extract(Some(salt), ikm));
        let out = prk
            .get_mut(..HASH_LEN)
            .ok_or(codec::Error::BufferTooSmall { needed: HASH_LEN })?;
        out.copy_from_slice(&p);
        Ok(())
    }

    fn expand(&mut self, prk: &[u8], info: &[u8], okm: &mut [u8]) -> codec::Result<()> {
        timed(|| {
            let h =
                hkdf::Hkdf::<Sha384>::from_prk(prk).map_err(|_| codec::Error::InvalidField {
                    field: "hkdf.prk",
                    value: prk.len() as u64,
                })?;
            h.expand(info, okm).map_err(|_| codec::Error::InvalidField {
                field: "hkdf.okm",
                value: okm.len() as u64,
            })
        })
    }
}

/// AES-256-GCM with its key set, for `tsm_proto::secured`.
pub struct AesGcm(Aes256Gcm);

impl AesGcm {
    /// A cipher for `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(timed(|| Aes256Gcm::new(key.into())))
    }
}

impl Aead for AesGcm {
    fn seal(
        &mut self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> codec::Result<()> {
        let t = timed(|| {
            self.0
                .encrypt_in_place_detached(nonce.into(), aad, in_out)
                .map_err(|_| codec::Error::InvalidField {
                    field: "secured.seal",
                    value: in_out.len() as u64,
                })
        })?;
        tag.copy_from_slice(&t);
        Ok(())
    }

    fn open(
        &mut self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> codec::Result<()> {
        timed(|| {
            self.0
                .decrypt_in_place_detached(nonce.into(), aad, in_out, tag.into())
                .map_err(|_| codec::Error::InvalidField {
                    field: "secured.mac",
                    value: 0,
                })
        })
    }
}

/// An ECDSA P-384 key pair.
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair(<secret>)")
    }
}

impl KeyPair {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(timed(|| SigningKey::random(&mut OsRng)))
    }

    /// A key from its 48-byte big-endian scalar.
    pub fn from_bytes(b: &[u8]) -> Result<Self, CryptoError> {
        SigningKey::from_slice(b)
            .map(Self)
            .map_err(|_| CryptoError::BadKey)
    }

    /// The 48-byte big-endian scalar (secret).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        *self.0.verifying_key()
    }

    /// ECDSA-SHA-384 signature of `msg` as fixed-size r || s.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIG_LEN] {
        let s: Signature = timed(|| self.0.sign(msg));
        let mut out = [0u8; SIG_LEN];
        out.copy_from_slice(&s.to_bytes());
        out
    }
}

/// Verifies a fixed-size r || s ECDSA-SHA-384 signature of `msg`.
pub fn verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    timed(|| {
        let s = Signature::from_slice(sig).map_err(|_| CryptoError::BadSignature)?;
        key.verify(msg, &s).map_err(|_| CryptoError::BadSignature)
    })
}

/// Contexts of the SPDM 1.2 signatures this suite makes (DSP0274 1.2 §15, Table
/// "SPDM signing contexts").
pub mod context {
    /// CHALLENGE_AUTH.
    pub const CHALLENGE_AUTH: &[u8] = b"responder-challenge_auth signing";
    /// MEASUREMENTS.
    pub const MEASUREMENTS: &[u8] = b"responder-measurements signing";
    /// KEY_EXCHANGE_RSP.
    pub const KEY_EXCHANGE_RSP: &[u8] = b"responder-key_exchange_rsp signing";
}

/// The SPDM 1.2+ message to be signed: `"dmtf-spdm-v1.X.*"` four times, zero padding so
/// the context ends at byte 100, the context, then the transcript hash.
pub fn signing_message(version: Version, context: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(100 + transcript_hash.len());
    let prefix: &[u8; 16] = match version {
        Version::V12 => b"dmtf-spdm-v1.2.*",
        Version::V13 => b"dmtf-spdm-v1.3.*",
    };
    for _ in 0..4 {
        m.extend_from_slice(prefix);
    }
    m.resize(100 - context.len().min(36), 0);
    m.extend_from_slice(context);
    m.extend_from_slice(transcript_hash);
    m
}

/// One side's ephemeral ECDHE secp384r1 key.
pub struct Ephemeral(p384::ecdh::EphemeralSecret);

impl Ephemeral {
    /// A fresh random ephemeral key.
    pub fn generate() -> Self {
        Self(timed(|| p384::ecdh::EphemeralSecret::random(&mut OsRng)))
    }

    /// ExchangeData: the public point as X || Y.
    pub fn exchange_data(&self) -> [u8; DHE_LEN] {
        let p = timed(|| p384::EncodedPoint::from(self.0.public_key()));
        let mut out = [0u8; DHE_LEN];
        // An uncompressed SEC1 point is 0x04 || X || Y.
        if let Some(xy) = p.as_bytes().get(1..) {
            if xy.len() == DHE_LEN {
                out.copy_from_slice(xy);
            }
        }
        out
    }

    /// The shared secret with the peer's X || Y (the X coordinate, `D/2` bytes).
    pub fn shared_secret(&self, peer: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if peer.len() != DHE_LEN {
            return Err(CryptoError::BadLength("exchange data"));
        }
        timed(|| {
            let mut sec1 = Vec::with_capacity(DHE_LEN + 1);
            sec1.push(4);
            sec1.extend_from_slice(peer);
            let pk = p384::PublicKey::from_sec1_bytes(&sec1).map_err(|_| CryptoError::BadKey)?;
            let s = self.0.diffie_hellman(&pk);
            Ok(s.raw_secret_bytes().to_vec())
        })
    }
}

/// Keys of one direction of a secured session.
#[derive(Clone)]
pub struct DirectionKeys {
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
    /// Sequence number of the next record.
    seq: u64,
}

impl std::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DirectionKeys {{ seq: {} }}", self.seq)
    }
}

/// Derives key and IV from a directional secret (bin_str5, bin_str6).
fn traffic_keys(version: Version, secret: &[u8]) -> codec::Result<DirectionKeys> {
    let mut h = HkdfSha384;
    let mut key = [0u8; KEY_LEN];
    let mut iv = [0u8; IV_LEN];
    secured::expand_label(&mut h, secret, version, secured::label::KEY, &[], &mut key)?;
    secured::expand_label(&mut h, secret, version, secured::label::IV, &[], &mut iv)?;
    Ok(DirectionKeys { key, iv, seq: 0 })
}

impl DirectionKeys {
    /// Seals `app` into a secured record for `session_id` and advances the sequence.
    pub fn seal(&mut self, session_id: u32, app: &[u8]) -> codec::Result<Vec<u8>> {
        let mut out = vec![0u8; secured::MIN_RECORD_LEN + app.len()];
        let mut aead = AesGcm::new(&self.key);
        let n = secured::seal_record(
            &mut aead,
            &self.iv,
            self.seq,
            session_id,
            app,
            &[],
            &mut out,
        )?;
        out.truncate(n);
        self.seq = self.seq.wrapping_add(1);
        Ok(out)
    }

    /// Takes back the sequence number of the last [`seal`](Self::seal): its record was
    /// never sent, so the peer still expects that number.
    pub fn unseal_last(&mut self) {
        self.seq = self.seq.wrapping_sub(1);
    }

    /// Skips one sequence number: a record of it was sent by the peer and never opened.
    pub fn skip(&mut self) {
        self.seq = self.seq.wrapping_add(1);
    }

    /// Opens a secured record (DOE padding allowed) and advances the sequence.
    pub fn open(&mut self, record: &[u8]) -> codec::Result<(u32, Vec<u8>)> {
        let rec = secured::SecuredRecord::split_padded(record)?;
        let mut scratch = vec![0u8; rec.ciphertext.len()];
        let mut aead = AesGcm::new(&self.key);
        let app = rec.open(&mut aead, &self.iv, self.seq, &mut scratch)?;
        self.seq = self.seq.wrapping_add(1);
        Ok((rec.session_id, app.to_vec()))
    }
}

/// The secrets of an SPDM session as the key schedule (DSP0274 1.2 §12) produces them.
#[derive(Clone)]
pub struct SessionSecrets {
    version: Version,
    handshake: Digest48,
    req_finished_key: Digest48,
    rsp_finished_key: Digest48,
    /// Request-direction keys (handshake keys until FINISH_RSP, data keys after).
    pub req: DirectionKeys,
    /// Response-direction keys.
    pub rsp: DirectionKeys,
}

impl std::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecrets(<secret>)")
    }
}

fn expand_hash(
    secret: &[u8],
    version: Version,
    label: &[u8],
    ctx: &[u8],
) -> codec::Result<Digest48> {
    let mut out = [0u8; HASH_LEN];
    secured::expand_label(&mut HkdfSha384, secret, version, label, ctx, &mut out)?;
    Ok(out)
}

impl SessionSecrets {
    /// Handshake phase: from the DHE secret and TH1.
    pub fn handshake(version: Version, dhe_secret: &[u8], th1: &[u8]) -> codec::Result<Self> {
        let mut h = HkdfSha384;
        let mut hs = [0u8; HASH_LEN];
        h.extract(&[0u8; HASH_LEN], dhe_secret, &mut hs)?;
        let req_hs = expand_hash(&hs, version, secured::label::REQ_HS_DATA, th1)?;
        let rsp_hs = expand_hash(&hs, version, secured::label::RSP_HS_DATA, th1)?;
        Ok(Self {
            version,
            handshake: hs,
            req_finished_key: expand_hash(&req_hs, version, secured::label::FINISHED, &[])?,
            rsp_finished_key: expand_hash(&rsp_hs, version, secured::label::FINISHED, &[])?,
            req: traffic_keys(version, &req_hs)?,
            rsp: traffic_keys(version, &rsp_hs)?,
        })
    }

    /// The requester's finished key (FINISH RequesterVerifyData).
    pub fn req_finished_key(&self) -> &[u8] {
        &self.req_finished_key
    }

    /// The responder's finished key (KEY_EXCHANGE_RSP ResponderVerifyData).
    pub fn rsp_finished_key(&self) -> &[u8] {
        &self.rsp_finished_key
    }

    /// Switches both directions to the data keys derived with TH2.
    pub fn to_data_phase(&mut self, th2: &[u8]) -> codec::Result<()> {
        let v = self.version;
        let salt1 = expand_hash(&self.handshake, v, secured::label::DERIVED, &[])?;
        let mut master = [0u8; HASH_LEN];
        HkdfSha384.extract(&salt1, &[0u8; HASH_LEN], &mut master)?;
        let req = expand_hash(&master, v, secured::label::REQ_APP_DATA, th2)?;
        let rsp = expand_hash(&master, v, secured::label::RSP_APP_DATA, th2)?;
        self.req = traffic_keys(v, &req)?;
        self.rsp = traffic_keys(v, &rsp)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let k = KeyPair::generate();
        let s = k.sign(b"abc");
        assert!(verify(&k.public(), b"abc", &s).is_ok());
        assert_eq!(
            verify(&k.public(), b"abd", &s),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn ecdh_agrees() {
        let a = Ephemeral::generate();
        let b = Ephemeral::generate();
        let sa = a.shared_secret(&b.exchange_data()).unwrap();
        let sb = b.shared_secret(&a.exchange_data()).unwrap();
        assert_eq!(sa, sb);
        assert_eq!(sa.len(), 48);
        assert!(a.shared_secret(&[0u8; 96]).is_err());
    }

    #[test]
    fn signing_message_is_100_bytes_of_prefix() {
        let m = signing_message(Version::V12, context::KEY_EXCHANGE_RSP, &[7u8; 48]);
        assert_eq!(m.len(), 148);
        assert_eq!(&m[..16], b"dmtf-spdm-v1.2.*");
        assert_eq!(
            &m[100 - context::KEY_EXCHANGE_RSP.len()..100],
            context::KEY_EXCHANGE_RSP
        );
    }

    #[test]
    fn session_records_round_trip() {
        let mut a = SessionSecrets::handshake(Version::V12, &[1u8; 48], &[2u8; 48]).unwrap();
        let mut b = a.clone();
        let rec = a.req.seal(0x1234_5678, b"hello").unwrap();
        let (sid, app) = b.req.open(&rec).unwrap();
        assert_eq!((sid, app.as_slice()), (0x1234_5678, &b"hello"[..]));
        let rec2 = a.req.seal(1, b"x").unwrap();
        let mut bad = rec2.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(b.req.open(&bad).is_err());
        a.to_data_phase(&[3u8; 48]).unwrap();
        b.to_data_phase(&[3u8; 48]).unwrap();
        let rec = a.rsp.seal(1, b"data").unwrap();
        assert_eq!(b.rsp.open(&rec).unwrap().1, b"data");
    }
}
