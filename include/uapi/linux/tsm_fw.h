/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Messages between the kernel's emulated platform TSM backend and the software TSM
 * firmware agent (tsm-fw) over the /dev/tsm_fw character device.
 *
 * The firmware owns the SPDM, IDE-KM and TDISP requester state and never touches a
 * device: for every exchange it asks the kernel for one DOE transfer
 * (TSM_FW_MSG_DOE_REQUEST) and continues when the kernel answers
 * (TSM_FW_CMD_DOE_RESPONSE), the same relay loop the kernel runs for TDX Connect,
 * SEV-TIO and the CCA RMM. See Documentation/driver-api/pci/tsm-fw.rst.
 *
 * Every message is one read() or write() of the device: a struct tsm_fw_hdr, the
 * fixed body of its type, then (for DOE_REQUEST, DOE_RESPONSE and COMPLETE) a payload
 * of the length the body gives. All fields are little-endian; no structure has holes.
 */
#ifndef _UAPI_LINUX_TSM_FW_H
#define _UAPI_LINUX_TSM_FW_H

#include <linux/types.h>

/* "TSFW" in a little-endian __u32 */
#define TSM_FW_MAGIC		0x57465354
/* Protocol versions: the only one so far */
#define TSM_FW_VERSION_1	1
/* Largest payload of a DOE_REQUEST, DOE_RESPONSE or COMPLETE */
#define TSM_FW_MAX_PAYLOAD	0x10000
/* Largest message: header, largest fixed body (BIND), largest payload */
#define TSM_FW_MAX_MSG_SIZE	0x10100
/* BAR slots in struct tsm_fw_bind */
#define TSM_FW_MAX_BARS		6
/* PCI-SIG vendor ID and the DOE object types of CMA/SPDM and Secured CMA/SPDM */
#define TSM_FW_DOE_VENDOR_PCI_SIG	0x0001
#define TSM_FW_DOE_TYPE_CMA		1
#define TSM_FW_DOE_TYPE_SECURED_CMA	2

/**
 * enum tsm_fw_msg_type - &tsm_fw_hdr.type
 * @TSM_FW_MSG_HELLO: firmware -> kernel, first message after open: &struct tsm_fw_hello
 * @TSM_FW_MSG_DOE_REQUEST: firmware -> kernel: do one DOE exchange,
 *	&struct tsm_fw_doe_request + payload
 * @TSM_FW_MSG_COMPLETE: firmware -> kernel: a command ended, &struct tsm_fw_complete +
 *	payload
 * @TSM_FW_CMD_HELLO_ACK: kernel -> firmware, answer to HELLO: &struct tsm_fw_hello_ack
 * @TSM_FW_CMD_CONNECT: kernel -> firmware: &struct tsm_fw_connect
 * @TSM_FW_CMD_DISCONNECT: kernel -> firmware: &struct tsm_fw_disconnect
 * @TSM_FW_CMD_BIND: kernel -> firmware: &struct tsm_fw_bind
 * @TSM_FW_CMD_UNBIND: kernel -> firmware: &struct tsm_fw_unbind
 * @TSM_FW_CMD_GUEST_REQ: kernel -> firmware: &struct tsm_fw_guest_req
 * @TSM_FW_CMD_DOE_RESPONSE: kernel -> firmware: the answer to a DOE_REQUEST,
 *	&struct tsm_fw_doe_response + payload
 */
enum tsm_fw_msg_type {
	TSM_FW_MSG_HELLO	= 0x0001,
	TSM_FW_MSG_DOE_REQUEST	= 0x0002,
	TSM_FW_MSG_COMPLETE	= 0x0003,
	TSM_FW_CMD_HELLO_ACK	= 0x0101,
	TSM_FW_CMD_CONNECT	= 0x0102,
	TSM_FW_CMD_DISCONNECT	= 0x0103,
	TSM_FW_CMD_BIND		= 0x0104,
	TSM_FW_CMD_UNBIND	= 0x0105,
	TSM_FW_CMD_GUEST_REQ	= 0x0106,
	TSM_FW_CMD_DOE_RESPONSE	= 0x0107,
};

/**
 * struct tsm_fw_hdr - header of every message
 * @magic: %TSM_FW_MAGIC
 * @version: protocol version; %TSM_FW_VERSION_1 after the handshake, the highest the
 *	sender speaks in HELLO
 * @type: &enum tsm_fw_msg_type
 * @length: bytes of the whole message, this header included (at most
 *	%TSM_FW_MAX_MSG_SIZE)
 * @flags: reserved, 0
 * @req_id: the kernel's id of the command a message belongs to; DOE_REQUEST and
 *	COMPLETE carry the id of the command they serve, DOE_RESPONSE the id of the
 *	DOE_REQUEST it answers; 0 for HELLO and HELLO_ACK
 */
struct tsm_fw_hdr {
	__u32 magic;
	__u16 version;
	__u16 type;
	__u32 length;
	__u32 flags;
	__u64 req_id;
};

/**
 * struct tsm_fw_dev - a device, by the PCI address of its DSM (function 0)
 * @segment: PCI segment (domain)
 * @bus: bus number
 * @devfn: device << 3 | function
 */
struct tsm_fw_dev {
	__u16 segment;
	__u8 bus;
	__u8 devfn;
};

/* &tsm_fw_hello.caps */
#define TSM_FW_CAP_IDE		(1 << 0)	/* keys IDE streams at CONNECT */
#define TSM_FW_CAP_TDISP	(1 << 1)	/* BIND/UNBIND/GUEST_REQ */

/**
 * struct tsm_fw_hello - TSM_FW_MSG_HELLO body
 * @min_version: lowest protocol version the firmware speaks
 * @max_version: highest protocol version the firmware speaks
 * @max_msg_size: largest message the firmware reads
 * @caps: TSM_FW_CAP_*
 * @reserved: 0
 */
struct tsm_fw_hello {
	__u16 min_version;
	__u16 max_version;
	__u32 max_msg_size;
	__u32 caps;
	__u32 reserved;
};

/**
 * struct tsm_fw_hello_ack - TSM_FW_CMD_HELLO_ACK body
 * @version: the version both speak, or 0 to refuse (the firmware then exits)
 * @reserved: 0
 * @max_msg_size: largest message the kernel reads
 */
struct tsm_fw_hello_ack {
	__u16 version;
	__u16 reserved;
	__u32 max_msg_size;
};

/**
 * struct tsm_fw_connect - TSM_FW_CMD_CONNECT body: authenticate the DSM, open the SPDM
 * secured session and key the selective IDE stream
 * @dev: the device
 * @stream_id: IDE stream ID to key
 * @reserved: 0
 */
struct tsm_fw_connect {
	struct tsm_fw_dev dev;
	__u8 stream_id;
	__u8 reserved[3];
};

/**
 * struct tsm_fw_disconnect - TSM_FW_CMD_DISCONNECT body: stop the IDE keys, end the
 * session
 * @dev: the device
 * @reserved: 0
 */
struct tsm_fw_disconnect {
	struct tsm_fw_dev dev;
	__u32 reserved;
};

/* &tsm_fw_bar.flags */
#define TSM_FW_BAR_64BIT	(1 << 0)
#define TSM_FW_BAR_PREFETCH	(1 << 1)

/**
 * struct tsm_fw_bar - a memory BAR of the TDI's function
 * @base: host physical base address
 * @size: size in bytes, a power of two
 * @index: BAR index 0-5
 * @flags: TSM_FW_BAR_*
 * @reserved: 0
 */
struct tsm_fw_bar {
	__u64 base;
	__u64 size;
	__u8 index;
	__u8 flags;
	__u8 reserved[6];
};

/**
 * struct tsm_fw_msix - MSI-X layout of the TDI's function
 * @table_entries: Table Size + 1; 0 if the function has no MSI-X
 * @table_bar: table BIR
 * @pba_bar: PBA BIR
 * @table_offset: table offset in its BAR
 * @pba_offset: PBA offset in its BAR
 * @reserved: 0
 */
struct tsm_fw_msix {
	__u16 table_entries;
	__u8 table_bar;
	__u8 pba_bar;
	__u32 table_offset;
	__u32 pba_offset;
	__u32 reserved;
};

/* TDISP LOCK_INTERFACE_REQUEST flags (&tsm_fw_bind.lock_flags) */
#define TSM_FW_LOCK_NO_FW_UPDATE	(1 << 0)
#define TSM_FW_LOCK_CACHE_LINE_128	(1 << 1)
#define TSM_FW_LOCK_MSIX		(1 << 2)
#define TSM_FW_LOCK_BIND_P2P		(1 << 3)
#define TSM_FW_LOCK_ALL_REQUEST_REDIRECT	(1 << 4)

/**
 * struct tsm_fw_bind - TSM_FW_CMD_BIND body: LOCK_INTERFACE the TDI, fetch and validate
 * its interface report
 * @dev: the device (its DSM)
 * @tdi_id: TDISP FUNCTION_ID of the TDI: requester ID (bus << 8 | devfn) in bits 15:0,
 *	segment in bits 23:16, bit 24 set when the segment is valid
 * @guest_rid: the guest's requester ID for the TDI (the vdevice virtual ID)
 * @lock_flags: TSM_FW_LOCK_*
 * @nr_bars: entries used in @bars
 * @reserved: 0
 * @mmio_reporting_offset: MMIO_REPORTING_OFFSET of LOCK_INTERFACE_REQUEST
 * @msix: MSI-X layout, checked against the report
 * @bars: the function's memory BARs, checked against the report
 */
struct tsm_fw_bind {
	struct tsm_fw_dev dev;
	__u32 tdi_id;
	__u32 guest_rid;
	__u16 lock_flags;
	__u8 nr_bars;
	__u8 reserved;
	__u64 mmio_reporting_offset;
	struct tsm_fw_msix msix;
	struct tsm_fw_bar bars[TSM_FW_MAX_BARS];
};

/**
 * struct tsm_fw_unbind - TSM_FW_CMD_UNBIND body: STOP_INTERFACE the TDI
 * @dev: the device
 * @tdi_id: as in &struct tsm_fw_bind
 */
struct tsm_fw_unbind {
	struct tsm_fw_dev dev;
	__u32 tdi_id;
};

/**
 * enum tsm_fw_guest_op - &tsm_fw_guest_req.op
 * @TSM_FW_GUEST_GET_REPORT: fetch and validate the interface report; COMPLETE's payload
 *	is the report
 * @TSM_FW_GUEST_START: START_INTERFACE_REQUEST (CONFIG_LOCKED -> RUN)
 * @TSM_FW_GUEST_GET_STATE: GET_DEVICE_INTERFACE_STATE; COMPLETE's tdi_state holds it
 */
enum tsm_fw_guest_op {
	TSM_FW_GUEST_GET_REPORT	= 1,
	TSM_FW_GUEST_START	= 2,
	TSM_FW_GUEST_GET_STATE	= 3,
};

/**
 * struct tsm_fw_guest_req - TSM_FW_CMD_GUEST_REQ body
 * @dev: the device
 * @tdi_id: as in &struct tsm_fw_bind
 * @op: &enum tsm_fw_guest_op
 * @reserved: 0
 */
struct tsm_fw_guest_req {
	struct tsm_fw_dev dev;
	__u32 tdi_id;
	__u32 op;
	__u32 reserved;
};

/**
 * struct tsm_fw_doe_request - TSM_FW_MSG_DOE_REQUEST body, followed by @length bytes:
 * the DOE object's payload (without the two-dword DOE header)
 * @dev: the device whose DOE mailbox to use
 * @vendor_id: DOE vendor ID, %TSM_FW_DOE_VENDOR_PCI_SIG
 * @object_type: %TSM_FW_DOE_TYPE_CMA or %TSM_FW_DOE_TYPE_SECURED_CMA
 * @reserved0: 0
 * @seq: exchange number within the command, from 0
 * @timeout_ms: how long the firmware is prepared to wait; the kernel may use less
 * @length: payload bytes, a multiple of 4, at most %TSM_FW_MAX_PAYLOAD
 * @reserved1: 0
 */
struct tsm_fw_doe_request {
	struct tsm_fw_dev dev;
	__u16 vendor_id;
	__u8 object_type;
	__u8 reserved0;
	__u32 seq;
	__u32 timeout_ms;
	__u32 length;
	__u32 reserved1;
};

/**
 * struct tsm_fw_doe_response - TSM_FW_CMD_DOE_RESPONSE body, followed by @length bytes:
 * the response object's payload
 * @status: 0, or a negative errno (-ETIMEDOUT, -EIO, -ECANCELED, ...) with @length 0
 * @vendor_id: DOE vendor ID of the response
 * @object_type: DOE object type of the response
 * @reserved: 0
 * @seq: the @seq of the DOE_REQUEST answered
 * @length: payload bytes, at most %TSM_FW_MAX_PAYLOAD
 */
struct tsm_fw_doe_response {
	__s32 status;
	__u16 vendor_id;
	__u8 object_type;
	__u8 reserved;
	__u32 seq;
	__u32 length;
};

/**
 * enum tsm_fw_error - &tsm_fw_complete.fw_error: why a command failed
 * @TSM_FW_ERR_NONE: success
 * @TSM_FW_ERR_TRANSPORT: a DOE exchange failed (see the errno in status)
 * @TSM_FW_ERR_TIMEOUT: a DOE exchange timed out
 * @TSM_FW_ERR_MALFORMED: a device message did not parse
 * @TSM_FW_ERR_OVERSIZED: a device message exceeded the negotiated size
 * @TSM_FW_ERR_SPDM_ERROR: the device answered with an SPDM ERROR
 * @TSM_FW_ERR_PROTOCOL: the device broke the protocol sequence
 * @TSM_FW_ERR_NEGOTIATION: no common SPDM/TDISP version, algorithm or capability
 * @TSM_FW_ERR_CERT: the certificate chain was not trusted
 * @TSM_FW_ERR_CRYPTO: a signature, MAC or AEAD tag did not verify
 * @TSM_FW_ERR_IDE_KM: IDE key programming failed
 * @TSM_FW_ERR_TDISP_ERROR: the device answered with TDISP_ERROR
 * @TSM_FW_ERR_REPORT: the interface report did not validate against the BARs
 * @TSM_FW_ERR_STATE: the command is not valid now (not connected, not bound, ...)
 * @TSM_FW_ERR_BUSY: another command is in progress
 * @TSM_FW_ERR_BAD_COMMAND: the command message was malformed
 */
enum tsm_fw_error {
	TSM_FW_ERR_NONE		= 0,
	TSM_FW_ERR_TRANSPORT	= 1,
	TSM_FW_ERR_TIMEOUT	= 2,
	TSM_FW_ERR_MALFORMED	= 3,
	TSM_FW_ERR_OVERSIZED	= 4,
	TSM_FW_ERR_SPDM_ERROR	= 5,
	TSM_FW_ERR_PROTOCOL	= 6,
	TSM_FW_ERR_NEGOTIATION	= 7,
	TSM_FW_ERR_CERT		= 8,
	TSM_FW_ERR_CRYPTO	= 9,
	TSM_FW_ERR_IDE_KM	= 10,
	TSM_FW_ERR_TDISP_ERROR	= 11,
	TSM_FW_ERR_REPORT	= 12,
	TSM_FW_ERR_STATE	= 13,
	TSM_FW_ERR_BUSY		= 14,
	TSM_FW_ERR_BAD_COMMAND	= 15,
};

/* &tsm_fw_complete.tdi_state: the TDISP TDI_STATE values, or NONE */
#define TSM_FW_TDI_CONFIG_UNLOCKED	0
#define TSM_FW_TDI_CONFIG_LOCKED	1
#define TSM_FW_TDI_RUN			2
#define TSM_FW_TDI_ERROR		3
#define TSM_FW_TDI_NONE			0xff

/**
 * struct tsm_fw_complete - TSM_FW_MSG_COMPLETE body, followed by @length bytes of
 * result (the report for GET_REPORT, else nothing)
 * @status: 0 or a negative errno
 * @fw_error: &enum tsm_fw_error
 * @tdi_state: TSM_FW_TDI_*: for TDI commands, the state the device last reported
 * @length: payload bytes, at most %TSM_FW_MAX_PAYLOAD
 */
struct tsm_fw_complete {
	__s32 status;
	__u32 fw_error;
	__u32 tdi_state;
	__u32 length;
};

#endif /* _UAPI_LINUX_TSM_FW_H */
