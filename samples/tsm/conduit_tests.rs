// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the firmware conduit: the firmware memory's bounds, a call with no
//! model, and the kernel's decoder of the bytes a model writes (`wire`).

use kernel::page::PAGE_SIZE;
use kernel::pci::tsm::conduit::{
    model::ModelConduit,
    wire,
    Conduit,
    Kind,
    NR_REGS, //
};
use kernel::prelude::*;

use crate::ThisOwner;

#[kunit_tests(tsm_conduit)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_the_handed_pages_only() -> Result {
        let c = ModelConduit::<ThisOwner>::new(c"tsm_conduit_kunit", Kind::Test)?;
        let mem = c.memory();
        let a = mem.alloc()?;
        assert_eq!(a % PAGE_SIZE as u64, 0);
        assert!(mem.holds(a) && mem.holds(a + PAGE_SIZE as u64 - 1));
        assert!(!mem.holds(a + PAGE_SIZE as u64));
        let mut b = [0xffu8; 8];
        // Zeroed when handed
        mem.read(a + 8, &mut b)?;
        assert_eq!(b, [0; 8]);
        mem.write(a + PAGE_SIZE as u64 - 8, &[7; 8])?;
        mem.read(a + PAGE_SIZE as u64 - 8, &mut b)?;
        assert_eq!(b, [7; 8]);
        // Across the page's end, outside it, empty
        assert_eq!(mem.read(a + PAGE_SIZE as u64 - 4, &mut b), Err(EFAULT));
        assert_eq!(mem.write(a + PAGE_SIZE as u64, &[1]), Err(EFAULT));
        assert_eq!(mem.read(a.wrapping_sub(8), &mut b), Err(EFAULT));
        assert_eq!(mem.write(a, &[]), Err(EFAULT));
        // Freed: gone, and freed once only
        mem.free(a)?;
        assert!(!mem.holds(a));
        assert_eq!(mem.read(a, &mut b), Err(EFAULT));
        assert_eq!(mem.free(a), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn a_call_without_a_model_is_enodev() -> Result {
        let c = ModelConduit::<ThisOwner>::new(c"tsm_conduit_kunit", Kind::Smc)?;
        assert!(!c.attached());
        assert_eq!(c.kind(), Kind::Smc);
        let mut regs = [5u64; NR_REGS];
        assert_eq!(c.call(&mut regs), Err(ENODEV));
        assert_eq!(regs, [5; NR_REGS]);
        Ok(())
    }

    #[test]
    fn model_bytes_are_decoded_strictly() {
        let ret = wire::Msg {
            kind: Kind::Return,
            call_id: 3,
            regs: [9; NR_REGS],
        };
        let b = ret.encode();
        assert_eq!(wire::Msg::decode(&b), Ok(ret));
        assert_eq!(
            wire::Msg::decode(&b[..wire::MSG_LEN - 1]),
            Err(wire::WireError::Length(wire::MSG_LEN - 1))
        );
        let mut bad = b;
        bad[4] = 0;
        assert_eq!(wire::Msg::decode(&bad), Err(wire::WireError::Version(0)));
        let mut bad = b;
        bad[6] = 0x42;
        bad[7] = 0;
        assert_eq!(wire::Msg::decode(&bad), Err(wire::WireError::Kind(0x42)));
        let acc = wire::MemAccess {
            addr: 0x1000,
            len: 0,
            uptr: 0,
        };
        assert_eq!(
            wire::MemAccess::decode(&acc.encode()),
            Err(wire::WireError::Access)
        );
    }
}
