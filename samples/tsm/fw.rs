// SPDX-License-Identifier: GPL-2.0

//! The firmware channel: the kernel side of `/dev/tsm_fw`.
//!
//! The software TSM firmware (`tsm-fw`) opens the device, says HELLO, and then serves one
//! command at a time: for each DOE exchange it needs it writes a `DOE_REQUEST`, and it
//! ends the command with `COMPLETE`. [`FwCommand`] is that command seen as a
//! [`relay::Port`], so the shared relay loop drives it exactly as it drives the vendor
//! firmwares.
//!
//! One firmware at a time may hold the device. When it closes the device (or dies), the
//! command in progress fails with `EPIPE`; with no firmware, commands fail with `ENODEV`.
//! Messages for a command the kernel has given up on are stale: a stale `DOE_REQUEST` is
//! answered at once with `-ECANCELED` so the firmware returns to idle quickly, a stale
//! `COMPLETE` is dropped.

use kernel::{
    new_condvar, new_mutex,
    pci::tsm::relay::{
        self,
        Port,
        Step, //
    },
    prelude::*,
    sync::{
        Arc,
        CondVar,
        CondVarTimeoutResult,
        Mutex, //
    },
    time::msecs_to_jiffies,
};

use crate::msg::{
    self,
    Cmd,
    FwMsg, //
};

/// How long the kernel waits for the firmware's next message within a command.
pub(crate) const MSG_TIMEOUT_MS: u32 = 30_000;

/// Channel state, under [`Hub::inner`].
struct Inner {
    /// Id of the open firmware file, 0 if none.
    session: u64,
    /// Last session id handed out.
    last_session: u64,
    /// The firmware completed the handshake.
    ready: bool,
    /// Kernel -> firmware messages, oldest first.
    outq: KVec<KVVec<u8>>,
    /// The firmware's last message for the active command, not yet consumed.
    inbox: Option<KVVec<u8>>,
    /// `req_id` of the command in progress, 0 if none.
    active: u64,
    /// Last `req_id` handed out.
    last_req: u64,
}

impl Inner {
    fn queue(&mut self, cmd: &Cmd<'_>, req_id: u64) -> Result {
        self.outq.push(msg::encode(cmd, req_id)?, GFP_KERNEL)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.ready = false;
        self.outq.clear();
        self.inbox = None;
    }
}

/// The firmware channel shared by the character device and the TSM operations.
#[pin_data]
pub(crate) struct Hub {
    #[pin]
    inner: Mutex<Inner>,
    /// Wakes readers of the device and the command waiting for the firmware.
    #[pin]
    cv: CondVar,
    /// Serializes commands: the firmware runs one at a time, for all DSMs (like the
    /// queue-depth-1 TDX module or the PSP's single command buffer).
    #[pin]
    cmd: Mutex<()>,
}

/// What the firmware's `COMPLETE` said.
pub(crate) struct Outcome {
    /// 0 or a negative errno.
    pub(crate) status: i32,
    /// `enum tsm_fw_error`.
    pub(crate) fw_error: u32,
    /// TDI state or `TSM_FW_TDI_NONE`.
    pub(crate) tdi_state: u32,
    /// Result payload (report, or a reason on failure).
    pub(crate) payload: KVVec<u8>,
}

impl Outcome {
    /// The command's result as an errno.
    pub(crate) fn result(&self) -> Result {
        match self.status {
            0 => Ok(()),
            s if (-4095..0).contains(&s) => Err(Error::from_errno(s)),
            _ => Err(EIO),
        }
    }

    /// The failure reason the firmware gave, if printable.
    pub(crate) fn reason(&self) -> &str {
        let p = self
            .payload
            .get(..self.payload.len().min(200))
            .unwrap_or(&[]);
        core::str::from_utf8(p).unwrap_or("")
    }
}

impl Hub {
    /// A channel with no firmware.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                inner <- new_mutex!(Inner {
                    session: 0,
                    last_session: 0,
                    ready: false,
                    outq: KVec::new(),
                    inbox: None,
                    active: 0,
                    last_req: 0,
                }),
                cv <- new_condvar!(),
                cmd <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// A firmware opened the device; returns its session id.
    pub(crate) fn open(&self) -> Result<u64> {
        let mut g = self.inner.lock();
        if g.session != 0 {
            return Err(EBUSY);
        }
        g.last_session += 1;
        g.session = g.last_session;
        g.reset();
        Ok(g.session)
    }

    /// The firmware of `session` closed the device: the command in progress fails.
    pub(crate) fn release(&self, session: u64) {
        let mut g = self.inner.lock();
        if g.session == session {
            g.session = 0;
            g.reset();
        }
        drop(g);
        self.cv.notify_all();
    }

    /// The next message for the firmware (blocks); `max` is the reader's buffer size.
    pub(crate) fn read(&self, session: u64, max: usize) -> Result<KVVec<u8>> {
        let mut g = self.inner.lock();
        loop {
            if g.session != session {
                return Err(EPIPE);
            }
            if let Some(first) = g.outq.first() {
                if first.len() > max {
                    return Err(EINVAL);
                }
                return g.outq.remove(0).map_err(|_| EINVAL);
            }
            if self.cv.wait_interruptible(&mut g) {
                return Err(ERESTARTSYS);
            }
        }
    }

    /// One whole message from the firmware.
    pub(crate) fn write(&self, session: u64, buf: KVVec<u8>) -> Result {
        enum Kind {
            Hello(u16),
            Doe(u64, u8, u32),
            Complete(u64),
        }
        let kind = match msg::decode(&buf) {
            Ok((_, FwMsg::Hello(h))) => Kind::Hello(
                if h.min_version <= msg::VERSION_1 && msg::VERSION_1 <= h.max_version {
                    msg::VERSION_1
                } else {
                    0
                },
            ),
            Ok((req_id, FwMsg::DoeRequest(d))) => Kind::Doe(req_id, d.object_type, d.seq),
            Ok((req_id, FwMsg::Complete(_))) => Kind::Complete(req_id),
            Err(e) => {
                pr_warn!("malformed firmware message: {:?}\n", e);
                return Err(EINVAL);
            }
        };
        let mut g = self.inner.lock();
        if g.session != session {
            return Err(EPIPE);
        }
        match kind {
            Kind::Hello(version) => {
                let ack = msg::HelloAck {
                    version,
                    max_msg_size: msg::MAX_MSG_SIZE as u32,
                };
                g.queue(&Cmd::HelloAck(ack), 0)?;
                g.ready = version != 0;
                pr_info!("firmware attached (protocol version {})\n", version);
            }
            _ if !g.ready => return Err(EINVAL),
            Kind::Doe(req_id, object_type, seq) if g.active == 0 || req_id != g.active => {
                // Stale: the kernel gave up on this command; let the firmware finish.
                let status = ECANCELED.to_errno();
                g.queue(&doe_response(status, object_type, seq, &[]), req_id)?;
            }
            Kind::Complete(req_id) if g.active == 0 || req_id != g.active => {}
            Kind::Doe(..) | Kind::Complete(_) => {
                if g.inbox.is_some() {
                    return Err(EBUSY);
                }
                g.inbox = Some(buf);
            }
        }
        drop(g);
        self.cv.notify_all();
        Ok(())
    }

    /// Runs `cmd` for the DSM `dev` through the relay loop, one command at a time.
    pub(crate) fn run(
        &self,
        transport: &dyn relay::Transport,
        dev: msg::Dev,
        cmd: Cmd<'_>,
    ) -> Result<Outcome> {
        let _serial = self.cmd.lock();
        // Teardown runs to its end whatever signal the caller has pending.
        let cancellable = !matches!(cmd, Cmd::Unbind(_) | Cmd::Disconnect(_));
        let mut port = FwCommand {
            hub: self,
            cmd,
            dev,
            req_id: 0,
            session: 0,
            last: None,
            seq: 0,
            object_type: 0,
            cancellable,
            answered: false,
            lost: false,
        };
        let limits = relay::Limits {
            max_exchanges: 512,
            deadline_ms: 120_000,
            cancellable,
        };
        relay::run(transport, &mut port, &limits)
    }
}

/// One firmware command in progress.
struct FwCommand<'a> {
    hub: &'a Hub,
    cmd: Cmd<'a>,
    dev: msg::Dev,
    req_id: u64,
    session: u64,
    /// The last `DOE_REQUEST` (whole message; the payload follows its fixed body).
    last: Option<KVVec<u8>>,
    seq: u32,
    object_type: u8,
    /// A signal may end the command (see [`relay::Limits::cancellable`]).
    cancellable: bool,
    /// The firmware has had the answer to one of its requests.
    answered: bool,
    /// The device answered the last request, but its `DOE_RESPONSE` could not be queued:
    /// the command ends telling the firmware the exchange failed (`EIO`), never that it
    /// was not sent, which would have the firmware take back a request the device saw.
    lost: bool,
}

/// Offset of a `DOE_REQUEST` payload in its message.
const DOE_PAYLOAD_OFFSET: usize = msg::size::HDR + msg::size::DOE_REQUEST;

/// The `DOE_RESPONSE` answering exchange `seq`: `status` and the response `payload`.
fn doe_response(status: i32, object_type: u8, seq: u32, payload: &[u8]) -> Cmd<'_> {
    Cmd::DoeResponse(msg::DoeResponse {
        status,
        vendor_id: msg::DOE_VENDOR_PCI_SIG,
        object_type,
        seq,
        payload,
    })
}

impl FwCommand<'_> {
    /// Waits for the firmware's next message for this command, bounded by
    /// [`MSG_TIMEOUT_MS`]. A signal ends the wait of a cancellable command only for its
    /// first message, before the firmware had an answer from the device: whatever the
    /// firmware then sends for the abandoned command is failed as not sent, or is its
    /// failure. Once an exchange was answered no signal ends the wait (the relay loop
    /// checks for signals before the next exchange, and [`Port::abort`] fails it so that
    /// the firmware takes it back): the firmware's next message could be the end of a
    /// bind or START it made, which the kernel must not miss (the selftest
    /// `signals_during_bind_and_guest_requests`).
    fn next(&mut self) -> Result<Step<Outcome>> {
        let mut left = msecs_to_jiffies(MSG_TIMEOUT_MS);
        let mut g = self.hub.inner.lock();
        let m = loop {
            if g.session != self.session {
                return Err(EPIPE);
            }
            if let Some(m) = g.inbox.take() {
                break m;
            }
            if !self.cancellable || self.answered {
                left = self.hub.cv.wait_timeout(&mut g, left);
                if left == 0 {
                    return Err(ETIMEDOUT);
                }
                continue;
            }
            match self.hub.cv.wait_interruptible_timeout(&mut g, left) {
                CondVarTimeoutResult::Timeout => return Err(ETIMEDOUT),
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        };
        drop(g);
        match msg::decode(&m) {
            Ok((_, FwMsg::DoeRequest(d))) => {
                let object_type = d.object_type;
                self.seq = d.seq;
                self.object_type = object_type;
                if d.dev != self.dev || d.payload.len() > relay::MAX_RESPONSE {
                    pr_warn!("firmware asked for another device's mailbox\n");
                    self.last = Some(m);
                    self.finish_with(EPERM);
                    return Err(EPROTO);
                }
                self.last = Some(m);
                Ok(Step::Doe { object_type })
            }
            Ok((_, FwMsg::Complete(c))) => {
                let mut p = KVVec::new();
                p.extend_from_slice(c.payload, GFP_KERNEL)?;
                self.finish_with(ECANCELED);
                Ok(Step::Done(Outcome {
                    status: c.status,
                    fw_error: c.fw_error,
                    tdi_state: c.tdi_state,
                    payload: p,
                }))
            }
            // `write` only queues DOE_REQUEST and COMPLETE that decoded.
            _ => Err(EINVAL),
        }
    }

    /// The command is over (done or abandoned): later messages for it are stale.
    /// A request the loop did not answer (the command ended on an error or a signal) is
    /// failed with `reason` (`ECANCELED`: not sent), so that the firmware ends its command
    /// and, for a request it is told was not sent, takes it back.
    fn finish_with(&mut self, reason: Error) {
        let reason = if self.lost { EIO } else { reason };
        let mut g = self.hub.inner.lock();
        if g.active == self.req_id && self.req_id != 0 {
            let pending = match (self.last.take(), g.inbox.take()) {
                (Some(_), _) => Some((self.object_type, self.seq)),
                // Arrived after the wait for it ended (a signal).
                (None, Some(m)) => match msg::decode(&m) {
                    Ok((_, FwMsg::DoeRequest(d))) => Some((d.object_type, d.seq)),
                    _ => None,
                },
                (None, None) => None,
            };
            if let (Some((object_type, seq)), true) = (pending, g.session == self.session) {
                let failed = doe_response(reason.to_errno(), object_type, seq, &[]);
                let _ = g.queue(&failed, self.req_id);
            }
            g.active = 0;
        }
        self.req_id = 0;
        drop(g);
        self.hub.cv.notify_all();
    }
}

impl Port for FwCommand<'_> {
    type Output = Outcome;

    fn issue(&mut self) -> Result<Step<Outcome>> {
        {
            let mut g = self.hub.inner.lock();
            if g.session == 0 || !g.ready {
                return Err(ENODEV);
            }
            g.last_req += 1;
            let req_id = g.last_req;
            g.queue(&self.cmd, req_id)?;
            g.active = req_id;
            g.inbox = None;
            self.req_id = req_id;
            self.session = g.session;
        }
        self.hub.cv.notify_all();
        self.next()
    }

    fn request(&self) -> &[u8] {
        self.last
            .as_ref()
            .and_then(|m| m.get(DOE_PAYLOAD_OFFSET..))
            .unwrap_or(&[])
    }

    fn resume(&mut self, response: Result<&[u8]>) -> Result<Step<Outcome>> {
        let (status, payload) = match response {
            Ok(p) => (0, p),
            Err(e) => (e.to_errno(), &[][..]),
        };
        {
            let mut g = self.hub.inner.lock();
            if g.session != self.session {
                return Err(EPIPE);
            }
            let queued = g.queue(
                &doe_response(status, self.object_type, self.seq, payload),
                self.req_id,
            );
            self.lost = queued.is_err();
            queued?;
        }
        self.last = None;
        self.answered = true;
        self.hub.cv.notify_all();
        self.next()
    }

    /// Every request, secured ones too: the emulated firmware gives a sealed request's
    /// sequence number back when its `DOE_RESPONSE` says it was not sent (`-ECANCELED`,
    /// which [`Port::abort`] sends), so a cancelled command leaves the session in step.
    fn can_withdraw(&self, _object_type: u8) -> bool {
        true
    }

    fn abort(&mut self, reason: Error) {
        self.finish_with(reason);
    }
}

impl Drop for FwCommand<'_> {
    fn drop(&mut self) {
        self.finish_with(ECANCELED);
    }
}

#[cfg(CONFIG_SAMPLE_TSM_EMU_KUNIT_TEST)]
#[kunit_tests(tsm_emu_fw_channel)]
mod tests {
    use super::*;
    use tsm_proto::codec::Writer;
    use tsm_proto::fwmsg::{
        Header,
        MsgType, //
    };

    /// Offset of a message's body.
    const BODY: usize = msg::size::HDR;

    /// A firmware -> kernel message: header, then `body`.
    fn fw_msg(msg_type: MsgType, req_id: u64, body: &[u8]) -> KVVec<u8> {
        let len = BODY + body.len();
        let mut v = KVVec::from_elem(0u8, len, GFP_KERNEL).unwrap();
        let mut w = Writer::new(&mut v);
        let h = Header {
            version: msg::VERSION_1,
            msg_type,
            length: len as u32,
            flags: 0,
            req_id,
        };
        h.encode(&mut w).unwrap();
        w.bytes(body).unwrap();
        v
    }

    fn hello(min: u16, max: u16) -> KVVec<u8> {
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&min.to_le_bytes());
        b[2..4].copy_from_slice(&max.to_le_bytes());
        fw_msg(MsgType::Hello, 0, &b)
    }

    fn doe_request(req_id: u64, seq: u32) -> KVVec<u8> {
        let mut b = [0u8; 28];
        b[4] = 1; // vendor: PCI-SIG
        b[6] = 1; // CMA
        b[8..12].copy_from_slice(&seq.to_le_bytes());
        b[16] = 4; // length
        fw_msg(MsgType::DoeRequest, req_id, &b)
    }

    fn u16_at(m: &[u8], off: usize) -> u16 {
        u16::from_le_bytes([m[off], m[off + 1]])
    }

    fn i32_at(m: &[u8], off: usize) -> i32 {
        i32::from_le_bytes([m[off], m[off + 1], m[off + 2], m[off + 3]])
    }

    struct NoMailbox;

    impl relay::Transport for NoMailbox {
        fn transfer(&self, _t: u8, _req: &[u8], _resp: &mut [u8]) -> Result<usize> {
            Err(EIO)
        }
    }

    #[test]
    fn handshake_and_single_firmware() {
        let hub = Hub::new().unwrap();
        let s = hub.open().unwrap();
        assert_eq!(hub.open(), Err(EBUSY));
        hub.write(s, hello(1, 1)).unwrap();
        let ack = hub.read(s, msg::MAX_MSG_SIZE).unwrap();
        assert_eq!(u16_at(&ack, 6), MsgType::HelloAck.to_u16());
        assert_eq!(u16_at(&ack, BODY), 1);
        hub.release(s);
        assert_eq!(hub.read(s, msg::MAX_MSG_SIZE).map(|_| ()), Err(EPIPE));
        assert!(hub.open().is_ok());
    }

    #[test]
    fn unsupported_version_is_refused() {
        let hub = Hub::new().unwrap();
        let s = hub.open().unwrap();
        hub.write(s, hello(2, 3)).unwrap();
        let ack = hub.read(s, msg::MAX_MSG_SIZE).unwrap();
        assert_eq!(u16_at(&ack, BODY), 0);
        // Without a handshake nothing else is accepted.
        assert_eq!(hub.write(s, doe_request(1, 0)), Err(EINVAL));
    }

    #[test]
    fn stale_messages_are_answered_or_dropped() {
        let hub = Hub::new().unwrap();
        let s = hub.open().unwrap();
        hub.write(s, hello(1, 1)).unwrap();
        let _ack = hub.read(s, msg::MAX_MSG_SIZE).unwrap();
        // No command in progress: a DOE request is cancelled at once.
        hub.write(s, doe_request(7, 3)).unwrap();
        let r = hub.read(s, msg::MAX_MSG_SIZE).unwrap();
        assert_eq!(u16_at(&r, 6), MsgType::DoeResponse.to_u16());
        assert_eq!(i32_at(&r, BODY), ECANCELED.to_errno());
        // A stale COMPLETE is dropped silently.
        hub.write(s, fw_msg(MsgType::Complete, 7, &[0u8; 16]))
            .unwrap();
        assert!(hub.inner.lock().outq.is_empty());
    }

    #[test]
    fn small_reader_buffer_keeps_the_message() {
        let hub = Hub::new().unwrap();
        let s = hub.open().unwrap();
        hub.write(s, hello(1, 1)).unwrap();
        assert_eq!(hub.read(s, 8).map(|_| ()), Err(EINVAL));
        assert!(hub.read(s, msg::MAX_MSG_SIZE).is_ok());
    }

    #[test]
    fn commands_need_a_firmware() {
        let hub = Hub::new().unwrap();
        let dev = msg::Dev::default();
        let r = hub.run(&NoMailbox, dev, Cmd::Disconnect(msg::Disconnect { dev }));
        assert!(matches!(r, Err(e) if e == ENODEV));
        // Opened but no handshake yet: still no firmware.
        let _s = hub.open().unwrap();
        let r = hub.run(&NoMailbox, dev, Cmd::Disconnect(msg::Disconnect { dev }));
        assert!(matches!(r, Err(e) if e == ENODEV));
    }
}
