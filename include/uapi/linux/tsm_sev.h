/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Guest requests of an AMD SEV-SNP guest about its bound TDI, as the SEV-TIO host TSM
 * (drivers/virt/coco/sev-tio-host) serves them: the @op of IOMMU_VDEVICE_TSM_REQ and
 * VFIO_DEVICE_TSM_GUEST_REQ with @tvm_arch IOMMU_VDEVICE_TSM_TVM_ARCH_SEV. A VMM
 * passes them on from the guest's SEV_TIO_OP exits (KVM_EXIT_VMGEXIT).
 * See Documentation/driver-api/pci/tsm-sev-tio.rst.
 *
 * @tsm_code is the PSP's status of the request's last TIO command (0: success),
 * the firmware error the VMM returns to the guest, or TSM_SEV_CODE_NONE when the
 * request made no command.
 *
 * These operations and their numbers are this project's, not an upstream ABI.
 */
#ifndef _UAPI_LINUX_TSM_SEV_H
#define _UAPI_LINUX_TSM_SEV_H

#include <linux/types.h>

/*
 * The interface report the PSP left at TDI_BIND (validated by the host; refreshed
 * by RUN), from the offset given as a little-endian __u32 payload (no payload:
 * from 0).
 */
#define TSM_SEV_GUEST_GET_REPORT	1
/* TDI_BIND with RUN: CONFIG_LOCKED -> RUN. No payload, an empty response. */
#define TSM_SEV_GUEST_RUN		2
/* TDI_STATUS: one byte, enum tsm_sev_tdisp_state. No payload. */
#define TSM_SEV_GUEST_GET_STATE		3
/*
 * TDI_UNBIND, not forced: the device stops the TDI (CONFIG_UNLOCKED) and the PSP
 * forgets the binding; the host's binding stays until VFIO or iommufd unbinds it.
 * No payload, an empty response.
 */
#define TSM_SEV_GUEST_STOP		4

/* @tsm_code of a request that made no TIO command */
#define TSM_SEV_CODE_NONE		(~0ULL)

/* TDI_STATUS's TDISP state */
enum tsm_sev_tdisp_state {
	TSM_SEV_TDISP_UNLOCKED = 0,
	TSM_SEV_TDISP_LOCKED = 1,
	TSM_SEV_TDISP_RUN = 2,
	TSM_SEV_TDISP_ERROR = 3,
};

#endif /* _UAPI_LINUX_TSM_SEV_H */
