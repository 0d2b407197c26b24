// SPDX-License-Identifier: GPL-2.0

//! Where the firmware's typed API meets the `/dev/tsm_fw` messages. The messages, their
//! constants and their codec are `tsm_proto::fwmsg`, which the kernel compiles too and
//! which mirrors `include/uapi/linux/tsm_fw.h` (a test parses the header and checks
//! every constant and structure size against it). This module converts, in both
//! directions and nowhere else, between those wire structures and the firmware's
//! [`Command`] and [`BindParams`], maps a [`FwError`] to a COMPLETE's `status` and
//! `fw_error`, and names the Linux errno values of the `status` fields.

use tsm_proto::codec;
use tsm_proto::fwmsg::{
    err, Bar, Bind, Cmd, Connect, Disconnect, GuestReq, Msix, Unbind, BAR_64BIT, BAR_PREFETCH,
    MAX_BARS,
};
use tsm_proto::report::{BarInfo, MsixLayout};
use tsm_proto::tdisp::{FunctionId, LockFlags};

use super::fw::{BindParams, Command, DoeError, FwError, GuestOp};

/// Linux errno values used in `status` fields.
pub mod errno {
    /// `EIO`.
    pub const EIO: i32 = 5;
    /// `EACCES`.
    pub const EACCES: i32 = 13;
    /// `EBUSY`.
    pub const EBUSY: i32 = 16;
    /// `EINVAL`.
    pub const EINVAL: i32 = 22;
    /// `EPROTO`.
    pub const EPROTO: i32 = 71;
    /// `EMSGSIZE`.
    pub const EMSGSIZE: i32 = 90;
    /// `EOPNOTSUPP`.
    pub const EOPNOTSUPP: i32 = 95;
    /// `ETIMEDOUT`.
    pub const ETIMEDOUT: i32 = 110;
    /// `ECANCELED`.
    pub const ECANCELED: i32 = 125;
    /// The largest errno (`MAX_ERRNO`): a status is 0 or -1 to -4095.
    pub const MAX_ERRNO: i32 = 4095;
}

/// Why a message could not be decoded, or a command not be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The bytes did not decode, or a value does not fit its field.
    #[error("malformed message: {0}")]
    Codec(codec::Error),
    /// A message the receiver does not take here.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl From<codec::Error> for ProtoError {
    fn from(e: codec::Error) -> Self {
        ProtoError::Codec(e)
    }
}

impl BindParams {
    /// The BIND body of these parameters.
    pub fn to_wire(&self) -> Result<Bind, ProtoError> {
        if self.bars.len() > MAX_BARS {
            return Err(ProtoError::Invalid("nr_bars"));
        }
        let mut bars = [Bar::default(); MAX_BARS];
        for (slot, b) in bars.iter_mut().zip(&self.bars) {
            let mut flags = 0;
            if b.is_64bit {
                flags |= BAR_64BIT;
            }
            if b.prefetchable {
                flags |= BAR_PREFETCH;
            }
            *slot = Bar {
                base: b.base,
                size: b.size,
                index: b.index,
                flags,
            };
        }
        let msix = self.msix.map_or(Msix::default(), |m| Msix {
            table_entries: m.table_entries,
            table_bar: m.table_bar,
            pba_bar: m.pba_bar,
            table_offset: m.table_offset,
            pba_offset: m.pba_offset,
        });
        Ok(Bind {
            dev: self.dev,
            tdi_id: self.tdi.to_u32(),
            guest_rid: self.guest_rid,
            lock_flags: self.lock_flags.bits(),
            nr_bars: self.bars.len() as u8,
            mmio_reporting_offset: self.mmio_reporting_offset,
            msix,
            bars,
        })
    }

    /// The parameters of a BIND body: its used BARs, its MSI-X layout if it has one.
    pub fn from_wire(b: &Bind) -> Result<Self, ProtoError> {
        let bars = b.used_bars().iter().map(|bar| BarInfo {
            index: bar.index,
            base: bar.base,
            size: bar.size,
            is_64bit: bar.flags & BAR_64BIT != 0,
            prefetchable: bar.flags & BAR_PREFETCH != 0,
        });
        let m = b.msix;
        Ok(Self {
            dev: b.dev,
            tdi: FunctionId::from_u32(b.tdi_id)?,
            guest_rid: b.guest_rid,
            lock_flags: LockFlags::from_bits(b.lock_flags)?,
            mmio_reporting_offset: b.mmio_reporting_offset,
            bars: bars.collect(),
            msix: (m.table_entries != 0).then_some(MsixLayout {
                table_bar: m.table_bar,
                table_offset: m.table_offset,
                table_entries: m.table_entries,
                pba_bar: m.pba_bar,
                pba_offset: m.pba_offset,
            }),
        })
    }
}

impl Command {
    /// The kernel's message asking for this command.
    pub fn to_wire(&self) -> Result<Cmd<'static>, ProtoError> {
        Ok(match self {
            Command::Connect { dev, stream_id } => Cmd::Connect(Connect {
                dev: *dev,
                stream_id: *stream_id,
            }),
            Command::Disconnect { dev } => Cmd::Disconnect(Disconnect { dev: *dev }),
            Command::Bind(p) => Cmd::Bind(p.to_wire()?),
            Command::Unbind { dev, tdi } => Cmd::Unbind(Unbind {
                dev: *dev,
                tdi_id: tdi.to_u32(),
            }),
            Command::GuestReq { dev, tdi, op } => Cmd::GuestReq(GuestReq {
                dev: *dev,
                tdi_id: tdi.to_u32(),
                op: op.to_u32(),
            }),
        })
    }

    /// The command a kernel message asks for; `None` for HELLO_ACK and DOE_RESPONSE,
    /// which are not commands.
    pub fn from_wire(cmd: &Cmd<'_>) -> Option<Result<Self, ProtoError>> {
        let tdi = |id| FunctionId::from_u32(id).map_err(ProtoError::from);
        Some(match *cmd {
            Cmd::HelloAck(_) | Cmd::DoeResponse(_) => return None,
            Cmd::Connect(c) => Ok(Command::Connect {
                dev: c.dev,
                stream_id: c.stream_id,
            }),
            Cmd::Disconnect(d) => Ok(Command::Disconnect { dev: d.dev }),
            Cmd::Bind(ref b) => BindParams::from_wire(b).map(Command::Bind),
            Cmd::Unbind(u) => tdi(u.tdi_id).map(|tdi| Command::Unbind { dev: u.dev, tdi }),
            Cmd::GuestReq(g) => GuestOp::from_u32(g.op)
                .map_err(ProtoError::from)
                .and_then(|op| {
                    Ok(Command::GuestReq {
                        dev: g.dev,
                        tdi: tdi(g.tdi_id)?,
                        op,
                    })
                }),
        })
    }
}

/// `(status, fw_error)` of a firmware error.
pub fn error_codes(e: &FwError) -> (i32, u32) {
    use errno::*;
    match e {
        FwError::Transport(DoeError::Timeout) => (-ETIMEDOUT, err::TIMEOUT),
        FwError::Transport(DoeError::NotSent) => (-ECANCELED, err::TRANSPORT),
        FwError::Transport(DoeError::Io(n)) => {
            let errno = (-MAX_ERRNO..0).contains(n);
            (if errno { *n } else { -EIO }, err::TRANSPORT)
        }
        FwError::Codec(_) => (-EPROTO, err::MALFORMED),
        FwError::Oversized(_) => (-EMSGSIZE, err::OVERSIZED),
        FwError::SpdmError(_) => (-EIO, err::SPDM_ERROR),
        FwError::Protocol(_) => (-EPROTO, err::PROTOCOL),
        FwError::Negotiation(_) => (-EOPNOTSUPP, err::NEGOTIATION),
        FwError::Cert(_) => (-EACCES, err::CERT),
        FwError::Crypto(_) => (-EACCES, err::CRYPTO),
        FwError::IdeKm(_) => (-EIO, err::IDE_KM),
        FwError::TdispError(_) => (-EIO, err::TDISP_ERROR),
        FwError::Report(_) => (-EPROTO, err::REPORT),
        FwError::State(_) => (-EINVAL, err::STATE),
        FwError::Busy => (-EBUSY, err::BUSY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::testbed as tb;
    use tsm_proto::fwmsg::{HelloAck, Message};

    #[test]
    fn every_command_converts_both_ways() {
        for c in [
            tb::connect(),
            tb::disconnect(),
            tb::bind(),
            tb::unbind(),
            tb::guest(GuestOp::GetReport),
            tb::guest(GuestOp::Start),
            tb::guest(GuestOp::GetState),
        ] {
            let wire = c.to_wire().unwrap();
            assert_eq!(Command::from_wire(&wire), Some(Ok(c.clone())));
            // And through the bytes.
            let bytes = wire.to_vec(3).unwrap();
            let (id, back) = Cmd::decode(&bytes).unwrap();
            assert_eq!((id, Command::from_wire(&back)), (3, Some(Ok(c))));
        }
    }

    #[test]
    fn bind_keeps_bars_flags_and_msix() {
        let p = tb::bind_params();
        let b = p.to_wire().unwrap();
        assert_eq!(usize::from(b.nr_bars), p.bars.len());
        assert_eq!(b.bars[0].flags, BAR_64BIT);
        assert_eq!(b.msix.table_entries, p.msix.unwrap().table_entries);
        let no_msix = BindParams {
            msix: None,
            ..p.clone()
        };
        let b = no_msix.to_wire().unwrap();
        assert_eq!(b.msix, Msix::default());
        assert_eq!(BindParams::from_wire(&b), Ok(no_msix));
        let too_many = BindParams {
            bars: vec![p.bars[0]; MAX_BARS + 1],
            ..p
        };
        assert_eq!(too_many.to_wire(), Err(ProtoError::Invalid("nr_bars")));
    }

    #[test]
    fn non_commands_and_unknown_ops() {
        let ack = Cmd::HelloAck(HelloAck {
            version: 1,
            max_msg_size: 0,
        });
        assert_eq!(Command::from_wire(&ack), None);
        let bad = Cmd::GuestReq(GuestReq {
            dev: tb::DEV,
            tdi_id: tb::TDI.to_u32(),
            op: 99,
        });
        assert!(matches!(Command::from_wire(&bad), Some(Err(_))));
    }

    #[test]
    fn statuses_are_errnos() {
        for n in [-5, -4095, 0, 7, -4096, i32::MIN] {
            let (status, code) = error_codes(&FwError::Transport(DoeError::Io(n)));
            assert!((-errno::MAX_ERRNO..0).contains(&status), "{n}: {status}");
            assert_eq!(code, err::TRANSPORT);
        }
    }
}
