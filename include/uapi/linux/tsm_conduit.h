/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The firmware conduit's model channel: a vendor TSM backend's lowest firmware call
 * (an SMC to the Arm CCA RMM, a SEAMCALL to the TDX module, a PSP mailbox command),
 * handed to a firmware model in userspace on machines that have no such firmware.
 * See Documentation/driver-api/pci/tsm-conduit.rst.
 *
 * The model reads one struct tsm_conduit_msg per call (kind: the platform's call) and
 * ends it by writing one (kind TSM_CONDUIT_RETURN, the call's call_id, the result
 * registers). While the call is in progress it may read and write the memory the
 * backend handed to firmware, by the address the firmware uses (a physical address),
 * with TSM_CONDUIT_MEM_READ and TSM_CONDUIT_MEM_WRITE; nothing else. All fields are
 * little-endian; no structure has holes. The codec is tsm_proto::conduit.
 */
#ifndef _UAPI_LINUX_TSM_CONDUIT_H
#define _UAPI_LINUX_TSM_CONDUIT_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* "TSCD" in a little-endian __u32 */
#define TSM_CONDUIT_MAGIC	0x44435354
#define TSM_CONDUIT_VERSION	1
#define TSM_CONDUIT_NR_REGS	18
/* Largest len of one memory access: an access stays within one page */
#define TSM_CONDUIT_MAX_ACCESS	4096

enum tsm_conduit_kind {
	/* Kernel to model: SMCCC 1.2 SMC, regs X0..X17 */
	TSM_CONDUIT_CALL_SMC = 1,
	/* Kernel to model: SEAMCALL, regs RAX, RCX, RDX, R8..R15, RBX, RDI, RSI */
	TSM_CONDUIT_CALL_SEAMCALL = 2,
	/* Kernel to model: PSP command, regs command ID, buffer address, status */
	TSM_CONDUIT_CALL_PSP = 3,
	/* Kernel to model: the conduit's self-test call */
	TSM_CONDUIT_CALL_TEST = 0x7f00,
	/* Model to kernel: the end of call call_id */
	TSM_CONDUIT_RETURN = 0x8000,
};

struct tsm_conduit_msg {
	__u32 magic;
	__u16 version;
	__u16 kind;		/* enum tsm_conduit_kind */
	__u64 call_id;
	__u64 regs[TSM_CONDUIT_NR_REGS];
};

struct tsm_conduit_mem {
	__u64 addr;		/* firmware address of the first byte */
	__u32 len;		/* 1 .. TSM_CONDUIT_MAX_ACCESS, within one page */
	__u32 flags;		/* 0 */
	__u64 uptr;		/* the model's buffer */
};

/* 0xB9, 0-1: Documentation/userspace-api/ioctl/ioctl-number.rst */
#define TSM_CONDUIT_MEM_READ	_IOW(0xB9, 0, struct tsm_conduit_mem)
#define TSM_CONDUIT_MEM_WRITE	_IOW(0xB9, 1, struct tsm_conduit_mem)

#endif /* _UAPI_LINUX_TSM_CONDUIT_H */
