/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Guest requests of an Arm CCA Realm about its bound TDI, as the Arm CCA host TSM
 * (drivers/virt/coco/arm-cca-host) serves them: the @op of IOMMU_VDEVICE_TSM_REQ and
 * VFIO_DEVICE_TSM_GUEST_REQ with @tvm_arch IOMMU_VDEVICE_TSM_TVM_ARCH_CCA.
 * See Documentation/driver-api/pci/tsm-cca.rst.
 *
 * @tsm_code is the VDEV's state after the request (enum tsm_cca_vdev_state, the
 * RMM's RmiVdevState), or TSM_CCA_CODE_UNKNOWN when it could not be read.
 *
 * These operations are this project's, not an upstream ABI: on a real CCA host the
 * Realm asks the RMM itself (RSI), and the host only carries the RMM's device traffic.
 */
#ifndef _UAPI_LINUX_TSM_CCA_H
#define _UAPI_LINUX_TSM_CCA_H

#include <linux/types.h>

/*
 * The interface report (VDEV_GET_INTERFACE_REPORT, validated by the host), from the
 * offset given as a little-endian __u32 payload (no payload: from 0).
 */
#define TSM_CCA_GUEST_GET_REPORT	1
/* VDEV_START: LOCKED -> STARTED (TDISP RUN). No payload, an empty response. */
#define TSM_CCA_GUEST_START		2
/* The VDEV's state: one byte, enum tsm_cca_vdev_state. No payload. */
#define TSM_CCA_GUEST_GET_STATE		3
/*
 * The TDI's measurements (VDEV_GET_MEASUREMENTS: the device's SPDM MEASUREMENTS
 * response for all blocks, signed over the Realm's nonce), from an offset. The
 * payload is struct tsm_cca_meas_req, or none (offset 0, flags 0, a zero nonce).
 * At offset 0 the host fetches the measurements anew with @flags and @nonce; at
 * any other offset it answers from its copy of the last fetch for this TDI (so one
 * signed response can be read in pieces): ENODATA if there was none, EINVAL if the
 * offset is past its end.
 */
#define TSM_CCA_GUEST_GET_MEASUREMENTS	4

/* tsm_cca_meas_req.flags: raw bitstream measurements */
#define TSM_CCA_MEAS_RAW		(1U << 0)

struct tsm_cca_meas_req {
	__u32 offset;
	__u32 flags;
	__u8 nonce[32];
};

/* @tsm_code when the VDEV's state could not be read */
#define TSM_CCA_CODE_UNKNOWN		(~0ULL)

/* RmiVdevState (RMI 2.0) */
enum tsm_cca_vdev_state {
	TSM_CCA_VDEV_NEW = 0,
	TSM_CCA_VDEV_UNLOCKED = 1,
	TSM_CCA_VDEV_LOCKED = 2,
	TSM_CCA_VDEV_STARTED = 3,
	TSM_CCA_VDEV_ERROR = 4,
};

#endif /* _UAPI_LINUX_TSM_CCA_H */
