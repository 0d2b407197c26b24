// SPDX-License-Identifier: GPL-2.0

//! Misbehaviour knobs of the emulated DSM, for reliability tests.
//!
//! Each knob makes the device break the protocol in one specific way; the requester
//! (tsm-fw, and the kernel behind it) must end every one of them in a clean, reported
//! error, never a crash or a hang. The knobs name the *request* whose response they
//! spoil, with the names in [`MsgKind`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The requests the DSM answers, by name (SPDM, IDE-KM and TDISP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgKind {
    /// GET_VERSION.
    Version,
    /// GET_CAPABILITIES.
    Capabilities,
    /// NEGOTIATE_ALGORITHMS.
    Algorithms,
    /// GET_DIGESTS.
    Digests,
    /// GET_CERTIFICATE.
    Certificate,
    /// CHALLENGE.
    Challenge,
    /// GET_MEASUREMENTS.
    Measurements,
    /// KEY_EXCHANGE.
    KeyExchange,
    /// FINISH.
    Finish,
    /// END_SESSION.
    EndSession,
    /// IDE-KM QUERY.
    IdeQuery,
    /// IDE-KM KEY_PROG.
    KeyProg,
    /// IDE-KM K_SET_GO.
    KSetGo,
    /// IDE-KM K_SET_STOP.
    KSetStop,
    /// TDISP GET_TDISP_VERSION.
    TdispVersion,
    /// TDISP GET_TDISP_CAPABILITIES.
    TdispCapabilities,
    /// TDISP LOCK_INTERFACE_REQUEST.
    Lock,
    /// TDISP GET_DEVICE_INTERFACE_REPORT.
    Report,
    /// TDISP GET_DEVICE_INTERFACE_STATE.
    State,
    /// TDISP START_INTERFACE_REQUEST.
    Start,
    /// TDISP STOP_INTERFACE_REQUEST.
    Stop,
    /// Anything else.
    Other,
}

const NAMES: [(MsgKind, &str); 21] = [
    (MsgKind::Version, "version"),
    (MsgKind::Capabilities, "capabilities"),
    (MsgKind::Algorithms, "algorithms"),
    (MsgKind::Digests, "digests"),
    (MsgKind::Certificate, "certificate"),
    (MsgKind::Challenge, "challenge"),
    (MsgKind::Measurements, "measurements"),
    (MsgKind::KeyExchange, "key_exchange"),
    (MsgKind::Finish, "finish"),
    (MsgKind::EndSession, "end_session"),
    (MsgKind::IdeQuery, "ide_query"),
    (MsgKind::KeyProg, "key_prog"),
    (MsgKind::KSetGo, "k_set_go"),
    (MsgKind::KSetStop, "k_set_stop"),
    (MsgKind::TdispVersion, "tdisp_version"),
    (MsgKind::TdispCapabilities, "tdisp_capabilities"),
    (MsgKind::Lock, "lock"),
    (MsgKind::Report, "report"),
    (MsgKind::State, "state"),
    (MsgKind::Start, "start"),
    (MsgKind::Stop, "stop"),
];

impl MsgKind {
    /// Every nameable kind.
    pub fn all() -> impl Iterator<Item = MsgKind> {
        NAMES.iter().map(|(k, _)| *k)
    }

    /// The knob name.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("other", |(_, n)| n)
    }

    /// Whether this is a TDISP request.
    pub fn is_tdisp(self) -> bool {
        matches!(
            self,
            MsgKind::TdispVersion
                | MsgKind::TdispCapabilities
                | MsgKind::Lock
                | MsgKind::Report
                | MsgKind::State
                | MsgKind::Start
                | MsgKind::Stop
        )
    }
}

impl fmt::Display for MsgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown message name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message name {0:?} (one of: {names})", names = names_list())]
pub struct UnknownMsg(pub String);

fn names_list() -> String {
    NAMES.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

impl FromStr for MsgKind {
    type Err = UnknownMsg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| UnknownMsg(s.to_owned()))
    }
}

/// The set of misbehaviours switched on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Corrupt every signature the DSM makes (CHALLENGE_AUTH, MEASUREMENTS,
    /// KEY_EXCHANGE_RSP).
    pub bad_signature: bool,
    /// Compute the session transcript wrongly (TH1 omits the certificate chain hash):
    /// ResponderVerifyData and every session key disagree with the requester's.
    pub wrong_transcript: bool,
    /// Truncate the response to this request to half its length.
    pub truncate: Option<MsgKind>,
    /// Append 8 KiB of junk to the response to this request (over any size limit).
    pub oversize: Option<MsgKind>,
    /// Answer this TDISP request with TDISP_ERROR (UNSPECIFIED), state unchanged.
    pub tdisp_error: Option<MsgKind>,
    /// After successfully handling this TDISP request, the TDI spontaneously enters
    /// ERROR.
    pub error_after: Option<MsgKind>,
    /// Delay every response (or only the one to `delay_at`) by this long.
    pub delay: Option<Duration>,
    /// Restricts `delay` to one request.
    pub delay_at: Option<MsgKind>,
}

impl Faults {
    /// Whether any knob is on.
    pub fn any(&self) -> bool {
        *self != Faults::default()
    }

    /// The delay for a response to `kind`.
    pub fn delay_for(&self, kind: MsgKind) -> Duration {
        match (self.delay, self.delay_at) {
            (Some(d), None) => d,
            (Some(d), Some(k)) if k == kind => d,
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in MsgKind::all() {
            assert_eq!(k.name().parse::<MsgKind>(), Ok(k));
        }
        assert!("bogus".parse::<MsgKind>().is_err());
        assert!(MsgKind::Lock.is_tdisp());
        assert!(!MsgKind::Finish.is_tdisp());
    }

    #[test]
    fn delay_selection() {
        let f = Faults {
            delay: Some(Duration::from_millis(5)),
            delay_at: Some(MsgKind::Lock),
            ..Faults::default()
        };
        assert_eq!(f.delay_for(MsgKind::Lock), Duration::from_millis(5));
        assert_eq!(f.delay_for(MsgKind::Start), Duration::ZERO);
        assert!(f.any());
        assert!(!Faults::default().any());
    }
}
