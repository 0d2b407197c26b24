// SPDX-License-Identifier: GPL-2.0

//! The model side of the firmware conduit (`<linux/tsm_conduit.h>`,
//! `Documentation/driver-api/pci/tsm-conduit.rst`): a vendor backend's firmware calls,
//! read from `/dev/<name>`, answered by a firmware model.
//!
//! | item | what |
//! |---|---|
//! | [`Channel`] | the channel's four operations: read a call, write its return, read and write the handed memory |
//! | [`DevChannel`] | the real one, over the character device (`read()`/`write()` of one message, ioctls `MEM_READ`/`MEM_WRITE`) |
//! | [`FakeChannel`] | an in-memory one with the kernel's rules, for host tests |
//! | [`ChannelMemory`] | the models' [`FwMemory`] over a channel |
//! | [`serve_one`], [`serve`] | one call at a time to the RMM model |
//! | [`serve_psp_one`], [`serve_psp`] | one PSP command or stand-in at a time to the PSP model (`fw::psp`) |
//! | [`serve_one_seamcall`], [`serve_seamcalls`] | one SEAMCALL at a time to the TDX module model |
//!
//! The rules the channel keeps (the kernel's, `rust/kernel/pci/tsm/conduit/model.rs`):
//! one call at a time; memory only while a call is in progress (`EPERM` otherwise),
//! only the handed pages and within one page (`EFAULT`), 1..=4096 bytes (`EINVAL`); a
//! return names its call, a return of a call that is over is dropped.
//!
//! The PSP conduit carries two kinds of call in one kind of message: TIO commands, and
//! the stand-ins of `tsm_proto::tio::standin` (the host's RMP updates and guest
//! launch, which a real PSP learns from the RMP and KVM, not from a command), told
//! apart by the command ID: every stand-in is above `standin::FIRST`, the largest ID
//! CMDRESP can carry. [`serve_psp_one`] answers both.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use log::{debug, info, warn};
use tsm_proto::conduit::{
    Kind, MemAccess, Msg, WireError, MAX_ACCESS, MEM_ACCESS_LEN, MEM_READ, MEM_WRITE, MSG_LEN,
    NR_REGS,
};
use tsm_proto::rmi::result::SMC_NOT_SUPPORTED;
use tsm_proto::tio::standin::{self, StandIn};

use crate::fw::psp::{Psp, Refusal};
use crate::fw::rmm::{granule_pieces, FwMemory, MemFault, Rmm, SmcRegs, GRANULE, SMC_REGS};
use crate::fw::tdx::TdxModule;
use tsm_proto::tdx::Regs as TdxRegs;

/// Why the channel failed (not a memory access: [`MemError`]).
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A system call failed (`EPIPE`: the kernel side went away).
    #[error("conduit: {0}")]
    Io(#[from] io::Error),
    /// The kernel sent bytes that are no message.
    #[error("conduit: malformed message: {0:?}")]
    Wire(WireError),
    /// A read or write moved a part of a message.
    #[error("conduit: short message ({0} bytes)")]
    Short(usize),
}

/// Why a memory access failed, by the kernel's errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// `EFAULT`: outside the handed pages, or across a page end.
    #[error("EFAULT")]
    Fault,
    /// `EPERM`: no call in progress.
    #[error("EPERM")]
    NoCall,
    /// `EINVAL`: a malformed access (length 0 or above a page).
    #[error("EINVAL")]
    Invalid,
    /// Any other errno.
    #[error("errno {0}")]
    Other(i32),
}

impl MemError {
    fn from_errno(e: i32) -> Self {
        match e {
            libc::EFAULT => Self::Fault,
            libc::EPERM => Self::NoCall,
            libc::EINVAL => Self::Invalid,
            other => Self::Other(other),
        }
    }

    /// The errno.
    pub fn errno(self) -> i32 {
        match self {
            Self::Fault => libc::EFAULT,
            Self::NoCall => libc::EPERM,
            Self::Invalid => libc::EINVAL,
            Self::Other(e) => e,
        }
    }
}

/// The model's end of a conduit.
pub trait Channel {
    /// The next call; `None` when there is none to read (a fake with no call queued,
    /// the real device at its end). The real device blocks until the backend makes
    /// one.
    fn read_call(&mut self) -> Result<Option<Msg>, ChannelError>;
    /// Ends call `call_id` with `regs`.
    fn write_return(&mut self, call_id: u64, regs: &[u64; NR_REGS]) -> Result<(), ChannelError>;
    /// Reads `buf.len()` (1..=4096) bytes of handed memory at `addr`, within one page.
    fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemError>;
    /// Writes `data` (1..=4096 bytes) to handed memory at `addr`, within one page.
    fn mem_write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError>;
}

/// The channel over the character device a `ModelConduit` registers.
pub struct DevChannel {
    file: File,
}

impl DevChannel {
    /// Opens `path` (`EBUSY`: another model holds it).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Self { file })
    }

    fn access(&mut self, cmd: u32, addr: u64, ptr: u64, len: usize) -> Result<(), MemError> {
        let len = u32::try_from(len).map_err(|_| MemError::Invalid)?;
        let arg = MemAccess {
            addr,
            len,
            uptr: ptr,
        }
        .encode();
        debug_assert_eq!(arg.len(), MEM_ACCESS_LEN);
        // SAFETY: `arg` is a live 24-byte `struct tsm_conduit_mem` the kernel only reads
        // (both ioctls are _IOW); its `uptr` names a live buffer of `len` bytes that the
        // caller borrows for the call (mutably for MEM_READ, which writes it).
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as _, arg.as_ptr()) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        Err(MemError::from_errno(e))
    }
}

impl Channel for DevChannel {
    fn read_call(&mut self) -> Result<Option<Msg>, ChannelError> {
        let mut b = [0u8; MSG_LEN];
        let n = loop {
            match self.file.read(&mut b) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The device went away: no call will come.
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(None),
                r => break r?,
            }
        };
        if n == 0 {
            // End of file: the kernel ended this model's session.
            return Ok(None);
        }
        if n != MSG_LEN {
            return Err(ChannelError::Short(n));
        }
        Msg::decode(&b).map(Some).map_err(ChannelError::Wire)
    }

    fn write_return(&mut self, call_id: u64, regs: &[u64; NR_REGS]) -> Result<(), ChannelError> {
        let b = Msg {
            kind: Kind::Return,
            call_id,
            regs: *regs,
        }
        .encode();
        let n = self.file.write(&b)?;
        if n != MSG_LEN {
            return Err(ChannelError::Short(n));
        }
        Ok(())
    }

    fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let (ptr, len) = (buf.as_mut_ptr() as u64, buf.len());
        self.access(MEM_READ, addr, ptr, len)
    }

    fn mem_write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        self.access(MEM_WRITE, addr, data.as_ptr() as u64, data.len())
    }
}

/// An in-memory channel with the kernel's rules: the "kernel" queues calls and takes
/// returns; the handed pages are `mem`'s (every page it has).
pub struct FakeChannel<'m> {
    mem: &'m mut dyn FwMemory,
    queued: VecDeque<Msg>,
    /// The call in progress (0: none), from queueing to its return.
    active: u64,
    last_id: u64,
    returns: Vec<Msg>,
    /// Memory accesses the model made, and how many were refused.
    pub accesses: usize,
    /// Accesses refused, by errno.
    pub refused: Vec<MemError>,
    /// Returns dropped as stale.
    pub stale: usize,
}

impl<'m> FakeChannel<'m> {
    /// A channel whose handed pages are those of `mem`; call IDs continue after
    /// `last_id`.
    pub fn new(mem: &'m mut dyn FwMemory, last_id: u64) -> Self {
        Self {
            mem,
            queued: VecDeque::new(),
            active: 0,
            last_id,
            returns: Vec::new(),
            accesses: 0,
            refused: Vec::new(),
            stale: 0,
        }
    }

    /// The backend makes a call of `kind`: its call ID. One call at a time: a call
    /// while one is in progress panics (the kernel serialises them).
    pub fn call(&mut self, kind: Kind, regs: [u64; NR_REGS]) -> u64 {
        assert_eq!(self.active, 0, "one call at a time");
        self.last_id += 1;
        self.active = self.last_id;
        self.queued.push_back(Msg {
            kind,
            call_id: self.last_id,
            regs,
        });
        self.last_id
    }

    /// The result registers of `call_id`, if the model answered it.
    pub fn result(&self, call_id: u64) -> Option<[u64; NR_REGS]> {
        self.returns
            .iter()
            .find(|m| m.call_id == call_id)
            .map(|m| m.regs)
    }

    /// The backend gives up on the call in progress (its timeout): a later return is
    /// stale.
    pub fn give_up(&mut self) {
        self.active = 0;
        self.queued.clear();
    }

    /// The last call ID handed out.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    fn check(&mut self, addr: u64, len: usize) -> Result<(), MemError> {
        self.accesses += 1;
        let r = if self.active == 0 {
            Err(MemError::NoCall)
        } else if len == 0 || len > MAX_ACCESS as usize {
            Err(MemError::Invalid)
        } else if (addr % GRANULE) as usize + len > GRANULE as usize {
            Err(MemError::Fault)
        } else {
            Ok(())
        };
        if let Err(e) = r {
            self.refused.push(e);
        }
        r
    }
}

impl Channel for FakeChannel<'_> {
    fn read_call(&mut self) -> Result<Option<Msg>, ChannelError> {
        Ok(self.queued.pop_front())
    }

    fn write_return(&mut self, call_id: u64, regs: &[u64; NR_REGS]) -> Result<(), ChannelError> {
        if call_id == 0 || call_id != self.active || !self.queued.is_empty() {
            self.stale += 1;
            return Ok(());
        }
        self.active = 0;
        self.returns.push(Msg {
            kind: Kind::Return,
            call_id,
            regs: *regs,
        });
        Ok(())
    }

    fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.check(addr, buf.len())?;
        self.mem.read(addr, buf).map_err(|_| {
            self.refused.push(MemError::Fault);
            MemError::Fault
        })
    }

    fn mem_write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        self.check(addr, data.len())?;
        self.mem.write(addr, data).map_err(|_| {
            self.refused.push(MemError::Fault);
            MemError::Fault
        })
    }
}

/// The RMM model's [`FwMemory`] over a channel: each access split at page ends (the
/// channel takes at most one page), any refusal a [`MemFault`] at the first byte of the
/// piece that failed, which the model answers as an unreachable NS address.
pub struct ChannelMemory<'c, C: Channel + ?Sized> {
    chan: &'c mut C,
}

impl<'c, C: Channel + ?Sized> ChannelMemory<'c, C> {
    /// The memory of `chan`'s call in progress.
    pub fn new(chan: &'c mut C) -> Self {
        Self { chan }
    }

    fn pieces(
        pa: u64,
        len: usize,
        mut f: impl FnMut(u64, std::ops::Range<usize>) -> Result<(), MemError>,
    ) -> Result<(), MemFault> {
        granule_pieces(pa, len, |at, r| {
            f(at, r).map_err(|e| {
                if e == MemError::NoCall {
                    warn!("conduit: memory access with no call in progress");
                } else {
                    debug!("conduit: access at {at:#x} refused: {e}");
                }
                MemFault { pa: at }
            })
        })
    }
}

impl<C: Channel + ?Sized> FwMemory for ChannelMemory<'_, C> {
    fn read(&mut self, pa: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        let len = buf.len();
        Self::pieces(pa, len, |at, r| match buf.get_mut(r) {
            Some(b) => self.chan.mem_read(at, b),
            None => Err(MemError::Invalid),
        })
    }

    fn write(&mut self, pa: u64, data: &[u8]) -> Result<(), MemFault> {
        Self::pieces(pa, data.len(), |at, r| match data.get(r) {
            Some(d) => self.chan.mem_write(at, d),
            None => Err(MemError::Invalid),
        })
    }
}

/// Serves one call: reads it, answers it. `false`: no call to read. A call of another
/// kind than an SMC is answered SMCCC NOT_SUPPORTED (X0 = −1); a message that is no
/// call is dropped.
pub fn serve_one<C: Channel + ?Sized>(chan: &mut C, rmm: &mut Rmm) -> Result<bool, ChannelError> {
    let Some(m) = chan.read_call()? else {
        return Ok(false);
    };
    if !m.kind.is_call() {
        warn!("conduit: dropped a {:?} message that is no call", m.kind);
        return Ok(true);
    }
    let mut out = [0u64; NR_REGS];
    if m.kind != Kind::Smc {
        warn!(
            "conduit: call {} is a {:?}, not an SMC: NOT_SUPPORTED",
            m.call_id, m.kind
        );
        out[0] = SMC_NOT_SUPPORTED;
    } else {
        let mut regs = SmcRegs::default();
        regs.x.copy_from_slice(&m.regs[..SMC_REGS]);
        let r = rmm.call(&regs, &mut ChannelMemory::new(&mut *chan));
        out[..SMC_REGS].copy_from_slice(&r.x);
    }
    chan.write_return(m.call_id, &out)?;
    Ok(true)
}

/// Serves one PSP call to the PSP model: reads it, answers it. The registers are
/// command ID, command buffer address and status (`tsm-conduit.rst`): the return
/// carries the call's registers with the status in the third. `false`: no call to
/// read. A call of another kind is answered with status INVALID_PARAM (0x16); a
/// message that is no call is dropped.
///
/// A command ID above `standin::FIRST` is no PSP command: it is a stand-in
/// ([`StandIn`], see [`stand_in`]), or else refused with INVALID_PARAM without
/// reaching the model. The stand-ins are told apart here rather than in
/// [`Psp::command`] because they are the conduit's calls, not the mailbox's:
/// [`Psp::command`] stays the mailbox (an 11-bit command ID, a command buffer in
/// handed memory), so a stand-in never counts as a command for the model's knobs,
/// never reads the command buffer and never logs as one; and the stand-ins' own
/// registers (the ASID in `regs[3]`) are read where the conduit's register order is.
pub fn serve_psp_one<C: Channel + ?Sized>(
    chan: &mut C,
    psp: &mut Psp,
) -> Result<bool, ChannelError> {
    let Some(m) = chan.read_call()? else {
        return Ok(false);
    };
    if !m.kind.is_call() {
        warn!("conduit: dropped a {:?} message that is no call", m.kind);
        return Ok(true);
    }
    let mut out = m.regs;
    if m.kind != Kind::PspCommand {
        warn!(
            "conduit: call {} is a {:?}, not a PSP command",
            m.call_id, m.kind
        );
        out[2] = u64::from(tsm_proto::tio::Status::InvalidParam.to_u16());
    } else if m.regs[0] > standin::FIRST {
        out[2] = u64::from(stand_in(psp, m.call_id, &m.regs));
    } else {
        let st = psp.command(m.regs[0], m.regs[1], &mut ChannelMemory::new(&mut *chan));
        out[2] = u64::from(st);
    }
    chan.write_return(m.call_id, &out)?;
    Ok(true)
}

/// One stand-in call (`tsm_proto::tio::standin`), `regs` in the PSP order: its status,
/// 0 or the refusal's (a refusal changes nothing). `regs[1]` is the page or guest
/// context address, `regs[3]` the ASID of GuestActivate; the other registers are not
/// read. An ID above `standin::FIRST` that is no [`StandIn`], and an ASID above 32
/// bits, are INVALID_PARAM (0x16): the status the model gives an unknown command.
/// A stand-in touches no handed memory.
fn stand_in(psp: &mut Psp, call_id: u64, regs: &[u64; NR_REGS]) -> u16 {
    let invalid = tsm_proto::tio::Status::InvalidParam;
    let Ok(s) = StandIn::from_u64(regs[0]) else {
        warn!(
            "conduit: call {call_id}: {:#x} is above every PSP command ID and no stand-in: {invalid:?}",
            regs[0]
        );
        return invalid.to_u16();
    };
    let at = regs[1];
    let r = match s {
        StandIn::MakeFirmware => psp.make_firmware(at),
        StandIn::MakeShared => psp.make_shared(at),
        StandIn::GuestActivate => match u32::try_from(regs[3]) {
            Ok(asid) => psp.activate_guest(at, asid),
            Err(_) => Err(Refusal::new(invalid, "ASID above 32 bits")),
        },
        StandIn::GuestDecommission => psp.decommission_guest(at),
    };
    match r {
        Ok(()) => {
            debug!("psp: stand-in {s:?} {at:#x} done");
            0
        }
        Err(e) => {
            info!(
                "psp: stand-in {s:?} {at:#x} refused: {:?} ({})",
                e.status, e.why
            );
            e.status.to_u16()
        }
    }
}

/// Serves PSP calls (commands and stand-ins) until there is none to read, or the
/// channel fails.
pub fn serve_psp<C: Channel + ?Sized>(chan: &mut C, psp: &mut Psp) -> Result<(), ChannelError> {
    while serve_psp_one(chan, psp)? {}
    Ok(())
}

/// Serves one SEAMCALL for the TDX module model: reads a call, answers it. `false`: no
/// call to read. The registers are `RAX`, `RCX`, `RDX`, `R8`..`R15`, `RBX`, `RDI`,
/// `RSI` (`tsm_proto::conduit`); no leaf uses R15 and up, so a nonzero one is
/// TDX_OPERAND_INVALID, like any nonzero register a leaf does not use. The result is
/// RAX, RCX and RDX, the other registers zero. A call of another kind is answered
/// TDX_OPERAND_INVALID in RAX (Unconfirmed: a kind mismatch has no TDX status).
pub fn serve_one_seamcall<C: Channel + ?Sized>(
    chan: &mut C,
    tdx: &mut TdxModule,
) -> Result<bool, ChannelError> {
    let Some(m) = chan.read_call()? else {
        return Ok(false);
    };
    if !m.kind.is_call() {
        warn!("conduit: dropped a {:?} message that is no call", m.kind);
        return Ok(true);
    }
    let mut out = [0u64; NR_REGS];
    let invalid = tsm_proto::tdx::Status::OperandInvalid.code();
    if m.kind != Kind::Seamcall {
        warn!(
            "conduit: call {} is a {:?}, not a SEAMCALL",
            m.call_id, m.kind
        );
        out[0] = invalid;
    } else if m.regs[10..].iter().any(|r| *r != 0) {
        out[0] = invalid;
    } else {
        let g = &m.regs;
        let regs = TdxRegs {
            rax: g[0],
            rcx: g[1],
            rdx: g[2],
            r8: g[3],
            r9: g[4],
            r10: g[5],
            r11: g[6],
            r12: g[7],
            r13: g[8],
            r14: g[9],
        };
        let r = tdx.call(&regs, &mut ChannelMemory::new(&mut *chan));
        out[..3].copy_from_slice(&[r.rax, r.rcx, r.rdx]);
    }
    chan.write_return(m.call_id, &out)?;
    Ok(true)
}

/// Serves SEAMCALLs for the TDX module model until there is none to read, or the
/// channel fails.
pub fn serve_seamcalls<C: Channel + ?Sized>(
    chan: &mut C,
    tdx: &mut TdxModule,
) -> Result<(), ChannelError> {
    while serve_one_seamcall(chan, tdx)? {}
    Ok(())
}

/// Serves calls until there is none to read, or the channel fails.
pub fn serve<C: Channel + ?Sized>(chan: &mut C, rmm: &mut Rmm) -> Result<(), ChannelError> {
    while serve_one(chan, rmm)? {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fw::rmm::{PageMemory, RmmConfig};
    use tsm_proto::rmi::{Abi, Call, DaFeatures};

    fn regs(fid: u32, args: &[u64]) -> [u64; NR_REGS] {
        let mut r = [0u64; NR_REGS];
        r[0] = u64::from(fid);
        r[1..=args.len()].copy_from_slice(args);
        r
    }

    #[test]
    fn seamcalls_through_the_channel() {
        use crate::fw::tdx::{TdxConfig, TdxModule};
        use tsm_proto::tdx::{Leaf, Status, SysConfig};
        let mut mem = PageMemory::new();
        let mut tdx = TdxModule::new(TdxConfig::default());
        let mut ch = FakeChannel::new(&mut mem, 0);
        let invalid = Status::OperandInvalid.code();
        let sys = SysConfig {
            tdmr_array_pa: 0,
            tdmr_count: 0,
            global_keyid: 0,
            features: 1 << 6,
            wall_clock: 0,
        }
        .regs();
        let mut g = [0u64; NR_REGS];
        g[0] = sys.rax;
        g[1..10].copy_from_slice(&sys.inputs());
        // R15 set, or the wrong kind: refused, nothing changed.
        let mut stray = g;
        stray[10] = 1;
        let a = ch.call(Kind::Seamcall, stray);
        serve_seamcalls(&mut ch, &mut tdx).unwrap();
        let b = ch.call(Kind::Smc, g);
        serve_seamcalls(&mut ch, &mut tdx).unwrap();
        assert_eq!(ch.result(a).map(|r| r[0]), Some(invalid));
        assert_eq!(ch.result(b).map(|r| r[0]), Some(invalid));
        let c = ch.call(Kind::Seamcall, g);
        assert!(serve_one_seamcall(&mut ch, &mut tdx).unwrap());
        assert_eq!(ch.result(c), Some([0; NR_REGS]));
        assert_eq!(Leaf::SysConfig.rax(), g[0]);
        // A second SYS.CONFIG is refused.
        let d = ch.call(Kind::Seamcall, g);
        serve_seamcalls(&mut ch, &mut tdx).unwrap();
        assert_eq!(ch.result(d).map(|r| r[0]), Some(invalid));
    }

    #[test]
    fn one_smc_through_the_channel() {
        let mut mem = PageMemory::new();
        mem.add_page(0x9000);
        let mut rmm = Rmm::new(RmmConfig::default());
        let mut ch = FakeChannel::new(&mut mem, 0);
        let fid = |c: Call| c.fid(Abi::V2_0).unwrap();
        let id = ch.call(Kind::Smc, regs(fid(Call::Features), &[2]));
        assert!(serve_one(&mut ch, &mut rmm).unwrap());
        let r = ch.result(id).unwrap();
        assert_eq!(r[0], 0);
        assert!(DaFeatures::decode(r[1]).da);
        // A delegation reaches the page through MEM_READ.
        let id = ch.call(
            Kind::Smc,
            regs(fid(Call::GranuleDelegate), &[0x9000, 0xA000]),
        );
        serve(&mut ch, &mut rmm).unwrap();
        assert_eq!(
            ch.result(id).map(|r| r[..2].to_vec()),
            Some(vec![0, 0xA000])
        );
        assert!(ch.accesses > 0);
        assert!(ch.refused.is_empty());
        // Memory the kernel did not hand: the model's ERROR_INPUT, after an EFAULT.
        let id = ch.call(
            Kind::Smc,
            regs(fid(Call::GranuleDelegate), &[0x20_0000, 0x20_1000]),
        );
        serve(&mut ch, &mut rmm).unwrap();
        assert_eq!(ch.result(id).map(|r| r[0]), Some(1));
        assert_eq!(ch.refused, vec![MemError::Fault]);
        assert!(!serve_one(&mut ch, &mut rmm).unwrap(), "nothing queued");
    }

    #[test]
    fn other_kinds_are_not_supported() {
        let mut mem = PageMemory::new();
        let mut rmm = Rmm::new(RmmConfig::default());
        let mut ch = FakeChannel::new(&mut mem, 7);
        for kind in [Kind::Seamcall, Kind::PspCommand, Kind::Test] {
            let id = ch.call(kind, [0x1234; NR_REGS]);
            assert!(serve_one(&mut ch, &mut rmm).unwrap());
            let mut want = [0u64; NR_REGS];
            want[0] = SMC_NOT_SUPPORTED;
            assert_eq!(ch.result(id), Some(want), "{kind:?}");
        }
        assert_eq!(ch.last_id(), 10);
    }

    #[test]
    fn one_psp_command_through_the_channel() {
        use crate::fw::psp::{Psp, PspConfig};
        use tsm_proto::tio::{Command, Layout, Request};
        let mut mem = PageMemory::new();
        mem.add_page(0x1000);
        mem.add_page(0x2000);
        let b = Request::TioStatus {
            status_paddr: 0x2000,
        }
        .encode(Layout::Current)
        .unwrap();
        mem.write(0x1000, b.as_bytes()).unwrap();
        let mut psp = Psp::new(PspConfig::new(Vec::new()));
        let mut ch = FakeChannel::new(&mut mem, 0);
        // The status page made firmware-owned by the stand-in, no memory touched.
        let mut r = [0u64; NR_REGS];
        (r[0], r[1]) = (StandIn::MakeFirmware.to_u64(), 0x2000);
        let id = ch.call(Kind::PspCommand, r);
        assert!(serve_psp_one(&mut ch, &mut psp).unwrap());
        assert_eq!(ch.result(id), Some(r), "status 0, the registers echoed");
        assert_eq!((ch.accesses, psp.rmp().firmware_pages()), (0, 1));
        // IDs above every command ID that are no stand-in: INVALID_PARAM, nothing done.
        let before = psp.snapshot();
        for bad in [standin::FIRST + 1, 0x1_0000, 0x1_0005, u64::MAX] {
            r[0] = bad;
            let id = ch.call(Kind::PspCommand, r);
            assert!(serve_psp_one(&mut ch, &mut psp).unwrap());
            assert_eq!(ch.result(id).map(|r| r[2]), Some(0x16), "{bad:#x}");
        }
        // A stand-in in a call of another kind.
        r[0] = StandIn::MakeShared.to_u64();
        let id = ch.call(Kind::Smc, r);
        assert!(serve_psp_one(&mut ch, &mut psp).unwrap());
        assert_eq!(ch.result(id).map(|r| r[2]), Some(0x16));
        assert_eq!(psp.snapshot(), before);
        assert_eq!(ch.accesses, 0);
        (r[0], r[1]) = (u64::from(Command::TioStatus.to_u16()), 0x1000);
        let id = ch.call(Kind::PspCommand, r);
        assert!(serve_psp_one(&mut ch, &mut psp).unwrap());
        let out = ch.result(id).unwrap();
        assert_eq!(
            (out[0], out[1], out[2]),
            (0xD0, 0x1000, 0),
            "status in the third"
        );
        assert!(ch.refused.is_empty());
        // A command buffer the kernel did not hand: EFAULT, then INVALID_PARAM.
        (r[0], r[1]) = (u64::from(Command::TioInit.to_u16()), 0x9000);
        let id = ch.call(Kind::PspCommand, r);
        assert!(serve_psp_one(&mut ch, &mut psp).unwrap());
        assert_eq!(ch.result(id).map(|r| r[2]), Some(0x16));
        assert_eq!(ch.refused, vec![MemError::Fault]);
        // Another kind of call.
        let id = ch.call(Kind::Smc, r);
        assert!(serve_psp_one(&mut ch, &mut psp).unwrap());
        assert_eq!(ch.result(id).map(|r| r[2]), Some(0x16));
        assert!(psp.is_clean());
        let _ = mem
            .page(0x2000)
            .map(|p| assert_eq!(p[0], 0x34, "status page written"));
    }

    #[test]
    fn fake_keeps_the_kernel_rules() {
        let mut mem = PageMemory::new();
        mem.add_page(0x1000);
        mem.add_page(0x2000);
        let mut ch = FakeChannel::new(&mut mem, 0);
        let mut b = [0u8; 8];
        assert_eq!(ch.mem_read(0x1000, &mut b), Err(MemError::NoCall));
        let id = ch.call(Kind::Smc, [0; NR_REGS]);
        assert_eq!(ch.mem_read(0x1000, &mut b), Ok(()));
        assert_eq!(
            ch.mem_read(0x1ffc, &mut b),
            Err(MemError::Fault),
            "page end"
        );
        assert_eq!(
            ch.mem_read(0x3000, &mut b),
            Err(MemError::Fault),
            "not handed"
        );
        assert_eq!(ch.mem_read(0x1000, &mut []), Err(MemError::Invalid));
        assert_eq!(ch.mem_write(0x1000, &[0u8; 4097]), Err(MemError::Invalid));
        // Through the adapter an access across the page end is split and succeeds.
        let mut m = ChannelMemory::new(&mut ch);
        m.write(0x1ffc, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let mut back = [0u8; 8];
        m.read(0x1ffc, &mut back).unwrap();
        assert_eq!(back, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(m.read(0x2ffc, &mut back), Err(MemFault { pa: 0x3000 }));
        let _ = ch.read_call().unwrap();
        // A return of another call is stale; the right one ends the call.
        ch.write_return(id + 1, &[9; NR_REGS]).unwrap();
        assert_eq!((ch.stale, ch.result(id)), (1, None));
        ch.write_return(id, &[0; NR_REGS]).unwrap();
        assert_eq!(ch.result(id), Some([0; NR_REGS]));
        ch.write_return(id, &[5; NR_REGS]).unwrap();
        assert_eq!(ch.stale, 2, "answered already");
        assert_eq!(ch.mem_read(0x1000, &mut b), Err(MemError::NoCall));
    }
}
