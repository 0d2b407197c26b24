// SPDX-License-Identifier: GPL-2.0

//! Session transcript rules (DSP0274 1.3.0 §10.14.1 "Session transcript and message
//! transcript" and §12 "Key schedule"): which messages, and which part of each, are
//! hashed for the KEY_EXCHANGE_RSP signature and HMAC, TH1, the FINISH signature and
//! HMAC, the FINISH_RSP HMAC and TH2, and for the PSK flow.
//!
//! The rules are data ([`parts`]); [`SessionTranscript::feed`] applies them to the raw
//! message bytes the caller kept and hands each slice to a caller-supplied
//! [`TranscriptHash`]. No cryptography happens here.
//!
//! | point | parts |
//! |---|---|
//! | KEY_EXCHANGE_RSP signature | VCA, Ct, KEY_EXCHANGE, KEY_EXCHANGE_RSP up to Signature |
//! | TH1 (= KEY_EXCHANGE_RSP HMAC) | VCA, Ct, KEY_EXCHANGE, KEY_EXCHANGE_RSP up to ResponderVerifyData |
//! | FINISH signature | VCA, Ct, K, K_RSP, [CM], FINISH up to Signature |
//! | FINISH HMAC | VCA, Ct, K, K_RSP, [CM], FINISH up to RequesterVerifyData |
//! | FINISH_RSP HMAC | VCA, Ct, K, K_RSP, [CM], FINISH, FINISH_RSP up to ResponderVerifyData |
//! | TH2 | VCA, Ct, K, K_RSP, [CM], FINISH, FINISH_RSP |
//! | PSK TH1 (= PSK_EXCHANGE_RSP HMAC) | VCA, PSK_EXCHANGE, PSK_EXCHANGE_RSP up to ResponderVerifyData |
//! | PSK_FINISH HMAC | VCA, PSK_EXCHANGE, PSK_EXCHANGE_RSP, PSK_FINISH up to RequesterVerifyData |
//! | PSK TH2 | VCA, PSK_EXCHANGE, PSK_EXCHANGE_RSP, PSK_FINISH, PSK_FINISH_RSP |
//!
//! VCA is GET_VERSION, VERSION, GET_CAPABILITIES, CAPABILITIES, NEGOTIATE_ALGORITHMS,
//! ALGORITHMS in that order; Ct is the hash of the responder's certificate chain (as in
//! DIGESTS); CM the hash of the requester's chain, present only with mutual
//! authentication.

use super::super::codec::{Error, Result};
use super::session::FINISH_SIGNATURE_INCLUDED;
use super::Negotiated;

/// A running hash a crypto provider supplies.
pub trait TranscriptHash {
    /// Absorbs `data`.
    fn update(&mut self, data: &[u8]);
}

/// How much of a message goes into a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The whole message.
    Whole,
    /// Everything before the Signature field.
    BeforeSignature,
    /// Everything before the (Requester/Responder)VerifyData field.
    BeforeVerifyData,
}

/// One element of a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The six VCA messages.
    Vca,
    /// Ct: hash of the responder's certificate chain.
    CertChainHash,
    /// KEY_EXCHANGE, whole.
    KeyExchange,
    /// KEY_EXCHANGE_RSP, cut as given.
    KeyExchangeRsp(Cut),
    /// CM: hash of the requester's certificate chain, if mutual authentication used one.
    MutCertChainHash,
    /// FINISH, cut as given.
    Finish(Cut),
    /// FINISH_RSP, cut as given.
    FinishRsp(Cut),
    /// PSK_EXCHANGE, whole.
    PskExchange,
    /// PSK_EXCHANGE_RSP, cut as given.
    PskExchangeRsp(Cut),
    /// PSK_FINISH, cut as given.
    PskFinish(Cut),
    /// PSK_FINISH_RSP, whole.
    PskFinishRsp,
}

/// The transcript points of a session handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Data signed in KEY_EXCHANGE_RSP.
    KeyExchangeRspSignature,
    /// TH1: data MACed by KEY_EXCHANGE_RSP ResponderVerifyData and the key schedule's
    /// handshake-secret context.
    Th1,
    /// Data signed in FINISH (mutual authentication).
    FinishSignature,
    /// Data MACed by FINISH RequesterVerifyData.
    FinishHmac,
    /// Data MACed by FINISH_RSP ResponderVerifyData (handshake in the clear).
    FinishRspHmac,
    /// TH2: the key schedule's data-secret context.
    Th2,
    /// PSK TH1: data MACed by PSK_EXCHANGE_RSP ResponderVerifyData.
    PskTh1,
    /// Data MACed by PSK_FINISH RequesterVerifyData.
    PskFinishHmac,
    /// PSK TH2.
    PskTh2,
}

use Cut::{BeforeSignature, BeforeVerifyData, Whole};
use Part::*;

const KEX_SIG: &[Part] = &[
    Vca,
    CertChainHash,
    KeyExchange,
    KeyExchangeRsp(BeforeSignature),
];
const TH1: &[Part] = &[
    Vca,
    CertChainHash,
    KeyExchange,
    KeyExchangeRsp(BeforeVerifyData),
];

/// The parts of a FINISH-phase point: the whole KEY_EXCHANGE handshake (VCA, Ct, K,
/// K_RSP, CM if any) followed by `$part`s.
macro_rules! after_key_exchange {
    ($($part:expr),+) => {
        &[Vca, CertChainHash, KeyExchange, KeyExchangeRsp(Whole), MutCertChainHash, $($part),+]
    };
}

const FIN_SIG: &[Part] = after_key_exchange![Finish(BeforeSignature)];
const FIN_HMAC: &[Part] = after_key_exchange![Finish(BeforeVerifyData)];
const FIN_RSP_HMAC: &[Part] = after_key_exchange![Finish(Whole), FinishRsp(BeforeVerifyData)];
const TH2: &[Part] = after_key_exchange![Finish(Whole), FinishRsp(Whole)];

const PSK_TH1: &[Part] = &[Vca, PskExchange, PskExchangeRsp(BeforeVerifyData)];
const PSK_FIN_HMAC: &[Part] = &[
    Vca,
    PskExchange,
    PskExchangeRsp(Whole),
    PskFinish(BeforeVerifyData),
];
const PSK_TH2: &[Part] = &[
    Vca,
    PskExchange,
    PskExchangeRsp(Whole),
    PskFinish(Whole),
    PskFinishRsp,
];

/// The ordered parts hashed at `point`.
pub const fn parts(point: Point) -> &'static [Part] {
    match point {
        Point::KeyExchangeRspSignature => KEX_SIG,
        Point::Th1 => TH1,
        Point::FinishSignature => FIN_SIG,
        Point::FinishHmac => FIN_HMAC,
        Point::FinishRspHmac => FIN_RSP_HMAC,
        Point::Th2 => TH2,
        Point::PskTh1 => PSK_TH1,
        Point::PskFinishHmac => PSK_FIN_HMAC,
        Point::PskTh2 => PSK_TH2,
    }
}

/// The raw bytes of a handshake, as sent and received, from which transcripts are fed.
/// Messages not yet exchanged are left empty; a point that needs one fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionTranscript<'a> {
    /// The VCA messages in order (any split: one concatenated buffer or six slices).
    pub vca: &'a [&'a [u8]],
    /// Ct: hash of the responder's certificate chain (`H` bytes).
    pub cert_chain_hash: &'a [u8],
    /// KEY_EXCHANGE.
    pub key_exchange: &'a [u8],
    /// KEY_EXCHANGE_RSP.
    pub key_exchange_rsp: &'a [u8],
    /// CM: hash of the requester's certificate chain, with mutual authentication.
    pub mut_cert_chain_hash: Option<&'a [u8]>,
    /// FINISH.
    pub finish: &'a [u8],
    /// FINISH_RSP.
    pub finish_rsp: &'a [u8],
    /// PSK_EXCHANGE.
    pub psk_exchange: &'a [u8],
    /// PSK_EXCHANGE_RSP.
    pub psk_exchange_rsp: &'a [u8],
    /// PSK_FINISH.
    pub psk_finish: &'a [u8],
    /// PSK_FINISH_RSP.
    pub psk_finish_rsp: &'a [u8],
}

fn need<'a>(what: &'static str, m: &'a [u8]) -> Result<&'a [u8]> {
    if m.len() < super::HEADER_LEN {
        return Err(Error::UnexpectedMessage { what });
    }
    Ok(m)
}

/// `m` without its last `tail` bytes.
fn cut_tail<'a>(field: &'static str, m: &'a [u8], tail: usize) -> Result<&'a [u8]> {
    let keep = m
        .len()
        .checked_sub(tail)
        .filter(|&k| k >= super::HEADER_LEN)
        .ok_or(Error::LengthMismatch {
            field,
            declared: tail,
            actual: m.len(),
        })?;
    m.get(..keep).ok_or(Error::Truncated {
        offset: 0,
        needed: keep,
    })
}

impl<'a> SessionTranscript<'a> {
    /// The transcript of a KEY_EXCHANGE handshake so far: the VCA, the responder's chain
    /// hash, KEY_EXCHANGE and KEY_EXCHANGE_RSP; the later messages are set as they come.
    pub fn handshake(
        vca: &'a [&'a [u8]],
        cert_chain_hash: &'a [u8],
        key_exchange: &'a [u8],
        key_exchange_rsp: &'a [u8],
    ) -> Self {
        Self {
            vca,
            cert_chain_hash,
            key_exchange,
            key_exchange_rsp,
            ..Self::default()
        }
    }

    fn slice(&self, part: Part, neg: &Negotiated) -> Result<&'a [u8]> {
        let h = neg.hash_size;
        match part {
            Vca | MutCertChainHash => Ok(&[]),
            CertChainHash => {
                if self.cert_chain_hash.len() != h {
                    return Err(Error::LengthMismatch {
                        field: "transcript.cert_chain_hash",
                        declared: h,
                        actual: self.cert_chain_hash.len(),
                    });
                }
                Ok(self.cert_chain_hash)
            }
            KeyExchange => need("KEY_EXCHANGE", self.key_exchange),
            KeyExchangeRsp(cut) => {
                let m = need("KEY_EXCHANGE_RSP", self.key_exchange_rsp)?;
                let verify = if neg.handshake_in_the_clear { 0 } else { h };
                let tail = match cut {
                    Whole => 0,
                    BeforeVerifyData => verify,
                    BeforeSignature => verify.saturating_add(neg.signature_size),
                };
                cut_tail("transcript.key_exchange_rsp", m, tail)
            }
            Finish(cut) => {
                let m = need("FINISH", self.finish)?;
                let signed = m.get(2).is_some_and(|p| p & FINISH_SIGNATURE_INCLUDED != 0);
                let sig = if signed { neg.req_signature_size } else { 0 };
                let tail = match cut {
                    Whole => 0,
                    BeforeVerifyData => h,
                    BeforeSignature => h.saturating_add(sig),
                };
                cut_tail("transcript.finish", m, tail)
            }
            FinishRsp(cut) => {
                let m = need("FINISH_RSP", self.finish_rsp)?;
                let tail = match (cut, neg.handshake_in_the_clear) {
                    (BeforeVerifyData | BeforeSignature, true) => h,
                    _ => 0,
                };
                cut_tail("transcript.finish_rsp", m, tail)
            }
            PskExchange => need("PSK_EXCHANGE", self.psk_exchange),
            PskExchangeRsp(cut) => {
                let m = need("PSK_EXCHANGE_RSP", self.psk_exchange_rsp)?;
                let tail = if cut == Whole { 0 } else { h };
                cut_tail("transcript.psk_exchange_rsp", m, tail)
            }
            PskFinish(cut) => {
                let m = need("PSK_FINISH", self.psk_finish)?;
                let tail = if cut == Whole { 0 } else { h };
                cut_tail("transcript.psk_finish", m, tail)
            }
            PskFinishRsp => need("PSK_FINISH_RSP", self.psk_finish_rsp),
        }
    }

    /// Feeds the transcript of `point` to `hash`, in order.
    ///
    /// Every part is checked before the first byte is fed, so on `Err` the hash has not
    /// been touched.
    pub fn feed<T: TranscriptHash + ?Sized>(
        &self,
        point: Point,
        neg: &Negotiated,
        hash: &mut T,
    ) -> Result<()> {
        if self.vca.is_empty() {
            return Err(Error::UnexpectedMessage { what: "VCA" });
        }
        for &p in parts(point) {
            self.slice(p, neg)?;
        }
        for &p in parts(point) {
            match p {
                Vca => self.vca.iter().for_each(|m| hash.update(m)),
                MutCertChainHash => {
                    if let Some(cm) = self.mut_cert_chain_hash {
                        hash.update(cm);
                    }
                }
                other => hash.update(self.slice(other, neg)?),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::Version;
    use super::*;

    /// A [`TranscriptHash`] that keeps what it absorbs, as far as its buffer goes (for the
    /// transcript tests of this module and `auth_transcript`).
    pub(in super::super) struct Log<'b> {
        buf: &'b mut [u8],
        len: usize,
    }

    impl<'b> Log<'b> {
        pub(in super::super) fn new(buf: &'b mut [u8]) -> Self {
            Self { buf, len: 0 }
        }

        /// What was absorbed.
        pub(in super::super) fn bytes(&self) -> &[u8] {
            &self.buf[..self.len]
        }
    }

    impl TranscriptHash for Log<'_> {
        fn update(&mut self, data: &[u8]) {
            for &b in data {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                }
            }
        }
    }

    #[test]
    fn th1_cuts_verify_data_and_signature_point_cuts_both() {
        let neg = Negotiated {
            hash_size: 2,
            signature_size: 3,
            ..Negotiated::initial(Version::V12)
        };
        let vca: [&[u8]; 2] = [&[0xa0], &[0xa1]];
        let t = SessionTranscript {
            vca: &vca,
            cert_chain_hash: &[0xc0, 0xc1],
            key_exchange: &[0x12, 0xe4, 0, 0, 0xe0],
            key_exchange_rsp: &[0x12, 0x64, 0, 0, 0x70, 0x51, 0x52, 0x53, 0x56, 0x57],
            ..Default::default()
        };
        let mut buf = [0u8; 32];
        let mut log = Log::new(&mut buf);
        t.feed(Point::Th1, &neg, &mut log).unwrap();
        assert_eq!(
            log.bytes(),
            &[
                0xa0, 0xa1, 0xc0, 0xc1, 0x12, 0xe4, 0, 0, 0xe0, 0x12, 0x64, 0, 0, 0x70, 0x51, 0x52,
                0x53
            ]
        );
        let mut buf = [0u8; 32];
        let mut log = Log::new(&mut buf);
        t.feed(Point::KeyExchangeRspSignature, &neg, &mut log)
            .unwrap();
        assert_eq!(log.bytes().len(), 14);
        assert!(t.feed(Point::Th2, &neg, &mut Log::new(&mut [])).is_err());
    }
}
