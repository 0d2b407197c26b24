// SPDX-License-Identifier: GPL-2.0

//! Message transcripts of the signed authentication exchanges (DSP0274 1.2 §10.11.1
//! "CHALLENGE_AUTH signature generation", §10.12.1 "MEASUREMENTS signature generation"),
//! kept the same way by a requester and a responder:
//!
//! | signature | what is hashed |
//! |---|---|
//! | CHALLENGE_AUTH | VCA, B (every GET_DIGESTS/DIGESTS and GET_CERTIFICATE/CERTIFICATE since the last CHALLENGE), CHALLENGE, CHALLENGE_AUTH up to Signature |
//! | MEASUREMENTS | VCA, L (every unsigned GET_MEASUREMENTS/MEASUREMENTS since the last signed one), GET_MEASUREMENTS, MEASUREMENTS up to Signature |
//!
//! VCA is GET_VERSION, VERSION, GET_CAPABILITIES, CAPABILITIES, NEGOTIATE_ALGORITHMS,
//! ALGORITHMS. A signed exchange empties its message (B or L). The buffers need the
//! `alloc` feature; the session handshake's transcripts are in `transcript`.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

#[cfg(feature = "alloc")]
use super::transcript::TranscriptHash;

/// Which message a plain exchange belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// VCA: GET_VERSION..ALGORITHMS.
    Vca,
    /// B: digests and certificate exchanges.
    B,
    /// L: unsigned measurement exchanges.
    L,
}

/// The VCA, B and L messages of one connection, as exchanged.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Default)]
pub struct AuthTranscript {
    vca: Vec<u8>,
    b: Vec<u8>,
    l: Vec<u8>,
}

#[cfg(feature = "alloc")]
impl AuthTranscript {
    /// An empty transcript (a new connection: GET_VERSION resets it).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one exchange, exactly as sent and received, to `message`.
    pub fn record(&mut self, message: Message, request: &[u8], response: &[u8]) {
        let m = match message {
            Message::Vca => &mut self.vca,
            Message::B => &mut self.b,
            Message::L => &mut self.l,
        };
        m.extend_from_slice(request);
        m.extend_from_slice(response);
    }

    /// The VCA messages so far (the first part of the session transcripts too).
    pub fn vca(&self) -> &[u8] {
        &self.vca
    }

    /// The transcript of the measurement exchanges inside a secured session: this
    /// connection's VCA, with B and L empty. A session's L holds only the exchanges
    /// made in that session (as libspdm keeps `message_m` per session), so a signed
    /// GET_MEASUREMENTS in it signs `VCA || that session's L || request || response`,
    /// whatever was exchanged outside it.
    pub fn for_session(&self) -> Self {
        Self {
            vca: self.vca.clone(),
            b: Vec::new(),
            l: Vec::new(),
        }
    }

    /// Feeds the CHALLENGE_AUTH signature's transcript to `hash`: VCA, B, `challenge`
    /// and `challenge_auth` (the response without its Signature); empties B.
    pub fn feed_challenge_auth<H: TranscriptHash + ?Sized>(
        &mut self,
        challenge: &[u8],
        challenge_auth: &[u8],
        hash: &mut H,
    ) {
        Self::feed_signed(&self.vca, &mut self.b, challenge, challenge_auth, hash);
    }

    /// Feeds the MEASUREMENTS signature's transcript to `hash`: VCA, L,
    /// `get_measurements` and `measurements` (the response without its Signature);
    /// empties L.
    pub fn feed_measurements<H: TranscriptHash + ?Sized>(
        &mut self,
        get_measurements: &[u8],
        measurements: &[u8],
        hash: &mut H,
    ) {
        Self::feed_signed(&self.vca, &mut self.l, get_measurements, measurements, hash);
    }

    fn feed_signed<H: TranscriptHash + ?Sized>(
        vca: &[u8],
        message: &mut Vec<u8>,
        request: &[u8],
        response: &[u8],
        hash: &mut H,
    ) {
        for part in [vca, message.as_slice(), request, response] {
            hash.update(part);
        }
        message.clear();
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::super::transcript::tests::Log;
    use super::*;

    /// What `feed` hands its hash.
    fn fed(feed: impl FnOnce(&mut Log<'_>)) -> Vec<u8> {
        let mut buf = [0u8; 16];
        let mut h = Log::new(&mut buf);
        feed(&mut h);
        h.bytes().to_vec()
    }

    #[test]
    fn challenge_and_measurements_hash_their_messages_and_empty_them() {
        let mut t = AuthTranscript::new();
        t.record(Message::Vca, b"v", b"V");
        t.record(Message::B, b"d", b"D");
        t.record(Message::L, b"m", b"M");
        assert_eq!(fed(|h| t.feed_challenge_auth(b"c", b"C", h)), b"vVdDcC");
        assert_eq!(fed(|h| t.feed_challenge_auth(b"c", b"C", h)), b"vVcC");
        assert_eq!(fed(|h| t.feed_measurements(b"g", b"G", h)), b"vVmMgG");
        assert_eq!(t.vca(), b"vV");
    }

    #[test]
    fn a_session_transcript_keeps_the_vca_and_its_own_l() {
        let mut t = AuthTranscript::new();
        t.record(Message::Vca, b"v", b"V");
        t.record(Message::B, b"d", b"D");
        t.record(Message::L, b"m", b"M");
        let mut s = t.for_session();
        assert_eq!(s.vca(), b"vV");
        assert_eq!(fed(|h| s.feed_measurements(b"g", b"G", h)), b"vVgG");
        s.record(Message::L, b"u", b"U");
        assert_eq!(fed(|h| s.feed_measurements(b"g", b"G", h)), b"vVuUgG");
        // The connection's own L is untouched by the session's exchanges.
        assert_eq!(fed(|h| t.feed_measurements(b"g", b"G", h)), b"vVmMgG");
    }
}
