// SPDX-License-Identifier: GPL-2.0

//! The firmware conduit's model channel (`<linux/tsm_conduit.h>`): one firmware call of a
//! vendor TSM backend (an SMC to the RMM, a SEAMCALL to the TDX module, a PSP mailbox
//! command), handed to a firmware model in userspace, and the model's answer.
//!
//! Every message is one `read()` (kernel to model, a call) or one `write()` (model to
//! kernel, its return) of [`MSG_LEN`] bytes, all little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | `magic` ([`MAGIC`], "TSCD") |
//! | 4 | 2 | `version` ([`VERSION`]) |
//! | 6 | 2 | `kind` ([`Kind`]) |
//! | 8 | 8 | `call_id`: the kernel's number of the call; a return names the call it ends |
//! | 16 | 8 × [`NR_REGS`] | `regs`: the call's registers in, the result registers out |
//!
//! The registers are those of the platform's call, in its order: SMCCC 1.2 `X0`..`X17`
//! for an SMC; `RAX`, `RCX`, `RDX`, `R8`..`R15`, `RBX`, `RDI`, `RSI` for a SEAMCALL
//! (`struct tdx_module_args` after the leaf); command ID, command buffer address and the
//! status for a PSP command. During a call the model reads and writes the memory the
//! backend handed to firmware with the ioctls [`MEM_READ`] and [`MEM_WRITE`], whose
//! argument is a [`MemAccess`].
//!
//! The kernel's side of the channel (`kernel::pci::tsm::conduit`) and the models use
//! this one codec.

/// `"TSCD"` in a little-endian `u32`.
pub const MAGIC: u32 = 0x4443_5354;
/// The only protocol version so far.
pub const VERSION: u16 = 1;
/// Registers of a message.
pub const NR_REGS: usize = 18;
/// Bytes of every message.
pub const MSG_LEN: usize = 16 + 8 * NR_REGS;
/// Bytes of a [`MemAccess`].
pub const MEM_ACCESS_LEN: usize = 24;
/// Largest `len` of one [`MemAccess`]: a page (an access never crosses a page).
pub const MAX_ACCESS: u32 = 4096;

/// The ioctl type of the device (`0xB9`, not registered in `ioctl-number.rst`).
pub const IOCTL_TYPE: u32 = 0xB9;

/// `_IOW(IOCTL_TYPE, nr, struct tsm_conduit_mem)` in the asm-generic layout (arm64 and
/// x86 both use it).
const fn iow(nr: u32) -> u32 {
    (1 << 30) | ((MEM_ACCESS_LEN as u32) << 16) | (IOCTL_TYPE << 8) | nr
}

/// `TSM_CONDUIT_MEM_READ`: copies `len` bytes of firmware memory at `addr` to `uptr`.
pub const MEM_READ: u32 = iow(0);
/// `TSM_CONDUIT_MEM_WRITE`: copies `len` bytes from `uptr` to firmware memory at `addr`.
pub const MEM_WRITE: u32 = iow(1);

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Kernel to model: an SMC (SMCCC 1.2, `X0`..`X17`).
    Smc,
    /// Kernel to model: a SEAMCALL.
    Seamcall,
    /// Kernel to model: a PSP mailbox command.
    PspCommand,
    /// Kernel to model: the conduit's self-test call (no platform's).
    Test,
    /// Model to kernel: the end of call `call_id`, with its result registers.
    Return,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Smc,
        Kind::Seamcall,
        Kind::PspCommand,
        Kind::Test,
        Kind::Return,
    ];

    /// The wire value.
    pub const fn encode(self) -> u16 {
        match self {
            Kind::Smc => 1,
            Kind::Seamcall => 2,
            Kind::PspCommand => 3,
            Kind::Test => 0x7f00,
            Kind::Return => 0x8000,
        }
    }

    /// The kind of wire value `v`.
    pub const fn decode(v: u16) -> Result<Kind, WireError> {
        match v {
            1 => Ok(Kind::Smc),
            2 => Ok(Kind::Seamcall),
            3 => Ok(Kind::PspCommand),
            0x7f00 => Ok(Kind::Test),
            0x8000 => Ok(Kind::Return),
            _ => Err(WireError::Kind(v)),
        }
    }

    /// A call (kernel to model), not a return.
    pub const fn is_call(self) -> bool {
        !matches!(self, Kind::Return)
    }
}

/// Why bytes are no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Not [`MSG_LEN`] (or [`MEM_ACCESS_LEN`]) bytes.
    Length(usize),
    /// Not [`MAGIC`].
    Magic(u32),
    /// Not [`VERSION`].
    Version(u16),
    /// No [`Kind`].
    Kind(u16),
    /// A [`MemAccess`] with non-zero `flags`, or a `len` of 0 or above [`MAX_ACCESS`].
    Access,
}

/// One message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    /// What it is.
    pub kind: Kind,
    /// The call it is or ends.
    pub call_id: u64,
    /// The registers.
    pub regs: [u64; NR_REGS],
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut v = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        v.copy_from_slice(s);
    }
    u16::from_le_bytes(v)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

fn put(out: &mut [u8], at: usize, v: &[u8]) {
    if let Some(d) = out.get_mut(at..at + v.len()) {
        d.copy_from_slice(v);
    }
}

impl Msg {
    /// The message's bytes.
    pub fn encode(&self) -> [u8; MSG_LEN] {
        let mut out = [0u8; MSG_LEN];
        put(&mut out, 0, &MAGIC.to_le_bytes());
        put(&mut out, 4, &VERSION.to_le_bytes());
        put(&mut out, 6, &self.kind.encode().to_le_bytes());
        put(&mut out, 8, &self.call_id.to_le_bytes());
        for (i, r) in self.regs.iter().enumerate() {
            put(&mut out, 16 + 8 * i, &r.to_le_bytes());
        }
        out
    }

    /// The message of `b`, exactly [`MSG_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Result<Msg, WireError> {
        if b.len() != MSG_LEN {
            return Err(WireError::Length(b.len()));
        }
        let magic = le_u32(b, 0);
        if magic != MAGIC {
            return Err(WireError::Magic(magic));
        }
        let version = le_u16(b, 4);
        if version != VERSION {
            return Err(WireError::Version(version));
        }
        let kind = Kind::decode(le_u16(b, 6))?;
        let mut regs = [0u64; NR_REGS];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = le_u64(b, 16 + 8 * i);
        }
        Ok(Msg {
            kind,
            call_id: le_u64(b, 8),
            regs,
        })
    }
}

/// The argument of [`MEM_READ`] and [`MEM_WRITE`] (`struct tsm_conduit_mem`): `addr` u64
/// (the address the firmware uses, a physical address), `len` u32, `flags` u32 (zero),
/// `uptr` u64 (the model's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemAccess {
    /// Firmware address of the first byte.
    pub addr: u64,
    /// Bytes, 1 ..= [`MAX_ACCESS`].
    pub len: u32,
    /// The model's buffer.
    pub uptr: u64,
}

impl MemAccess {
    /// The argument's bytes.
    pub fn encode(&self) -> [u8; MEM_ACCESS_LEN] {
        let mut out = [0u8; MEM_ACCESS_LEN];
        put(&mut out, 0, &self.addr.to_le_bytes());
        put(&mut out, 8, &self.len.to_le_bytes());
        put(&mut out, 16, &self.uptr.to_le_bytes());
        out
    }

    /// The access of `b`, exactly [`MEM_ACCESS_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Result<MemAccess, WireError> {
        if b.len() != MEM_ACCESS_LEN {
            return Err(WireError::Length(b.len()));
        }
        let len = le_u32(b, 8);
        if le_u32(b, 12) != 0 || len == 0 || len > MAX_ACCESS {
            return Err(WireError::Access);
        }
        Ok(MemAccess {
            addr: le_u64(b, 0),
            len,
            uptr: le_u64(b, 16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Msg {
        let mut regs = [0u64; NR_REGS];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = 0x0101_0101_0101_0101 * i as u64;
        }
        Msg {
            kind: Kind::Smc,
            call_id: 7,
            regs,
        }
    }

    #[test]
    fn golden_layout() {
        let b = call().encode();
        assert_eq!(&b[..4], b"TSCD");
        assert_eq!(&b[4..8], &[1, 0, 1, 0]);
        assert_eq!(&b[8..16], &[7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[16..24], &[0; 8]);
        assert_eq!(&b[24..32], &[1; 8]);
        assert_eq!(&b[MSG_LEN - 8..], &[17; 8]);
        assert_eq!(MSG_LEN, 160);
        assert_eq!(MEM_READ, 0x4018_b900);
        assert_eq!(MEM_WRITE, 0x4018_b901);
    }

    #[test]
    fn round_trip_of_every_kind() {
        for kind in Kind::ALL {
            let m = Msg { kind, ..call() };
            assert_eq!(Msg::decode(&m.encode()), Ok(m));
            assert_eq!(Kind::decode(kind.encode()), Ok(kind));
        }
        assert!(!Kind::Return.is_call());
        assert!(Kind::Test.is_call());
    }

    #[test]
    fn refusals() {
        let b = call().encode();
        assert_eq!(Msg::decode(&b[..MSG_LEN - 1]), Err(WireError::Length(159)));
        let mut long = [0u8; MSG_LEN + 1];
        long[..MSG_LEN].copy_from_slice(&b);
        assert_eq!(Msg::decode(&long), Err(WireError::Length(161)));
        let mut m = b;
        m[0] ^= 1;
        assert!(matches!(Msg::decode(&m), Err(WireError::Magic(_))));
        let mut m = b;
        m[4] = 2;
        assert_eq!(Msg::decode(&m), Err(WireError::Version(2)));
        let mut m = b;
        m[6] = 9;
        assert_eq!(Msg::decode(&m), Err(WireError::Kind(9)));
    }

    #[test]
    fn mem_access() {
        let a = MemAccess {
            addr: 0x8000_1000,
            len: 16,
            uptr: 0x7fff_0000,
        };
        assert_eq!(MemAccess::decode(&a.encode()), Ok(a));
        let mut b = a.encode();
        b[12] = 1;
        assert_eq!(MemAccess::decode(&b), Err(WireError::Access));
        for len in [0, MAX_ACCESS + 1] {
            let b = MemAccess { len, ..a }.encode();
            assert_eq!(MemAccess::decode(&b), Err(WireError::Access));
        }
        assert_eq!(
            MemAccess::decode(&a.encode()[..23]),
            Err(WireError::Length(23))
        );
    }
}
