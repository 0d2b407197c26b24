// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEE-IO device assignment through the vfio-pci-tsm variant driver and the
 * iommufd vDEVICE TSM layer: a VMM's whole sequence (driver_override to
 * vfio-pci-tsm, KVM_DEV_VFIO_FILE_ADD, VFIO_DEVICE_BIND_IOMMUFD, nest parent,
 * vIOMMU, vDEVICE, then VFIO_DEVICE_TSM_BIND or IOMMU_VDEVICE_TSM_OP), every
 * errno of the new ioctls, what is refused while bound and allowed after
 * unbind, and the ways a binding ends (close, vDEVICE destroy, disconnect).
 * After each step that reaches the device, the TDISP state the emulated DSM
 * itself reports (tsm_dsm_tdi_state(), answered by the harness) is checked.
 *
 * The platform TSM is the emulated one (samples/tsm, tsm_emu.ko) with the
 * software firmware tsm-fw; each test that connects starts its own tsm-fw.
 * The arm64 guest has an iommufd vIOMMU; the x86_64 guest has none, and its
 * test kernel's seam (CONFIG_VFIO_PCI_TSM_TEST_NO_VIOMMU) binds through
 * VFIO_DEVICE_TSM_BIND with vDEVICE ID 0: there the tests of the vDEVICE
 * and of IOMMU_VDEVICE_TSM_OP skip, and the others run as on arm64.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "tsm_vmm.h"
#include "tsm_locked.h"

#define TSM_FW_LOG	"/tmp/tsm-fw-vfio.log"
#define VIRT_ID		0x100

FIXTURE(tsm_vfio) {
	char bdf[32];
	char tsm[32];
	pid_t fw;
	struct tsm_vmm v;
};

FIXTURE_SETUP(tsm_vfio)
{
	self->bdf[0] = '\0';
	self->fw = 0;
	tsm_vmm_init(&self->v);
	ASSERT_EQ(0, tsm_platform_ready(self->bdf, sizeof(self->bdf), self->tsm,
					sizeof(self->tsm)));
	ASSERT_EQ(0, tsm_bind_driver(self->bdf, TSM_VFIO_DRV));
	self->v.vm = tsm_vm_create();
	ASSERT_LE(0, self->v.vm);
}

FIXTURE_TEARDOWN(tsm_vfio)
{
	tsm_vmm_release(&self->v);
	if (self->v.vm >= 0)
		close(self->v.vm);
	if (self->bdf[0])
		tsm_disconnect_any(self->bdf);
	tsm_fw_stop(self->fw, SIGTERM);
}

/* Opens the device as a VMM would; @kvm: with KVM_DEV_VFIO_FILE_ADD first. */
static int assign(struct _test_data_tsm_vfio *self, int kvm)
{
	return tsm_vmm_assign(&self->v, self->bdf, kvm, VIRT_ID);
}

static int connect_fw(struct _test_data_tsm_vfio *self)
{
	return tsm_connect_fw(self->bdf, self->tsm, TSM_FW_LOG, &self->fw);
}

static int bound(struct _test_data_tsm_vfio *self)
{
	return tsm_bound(self->bdf);
}

/*
 * Assigns (with KVM), turns Memory Space and Bus Master on as a guest driver
 * would (the value into *@cmd), connects and binds. Return: 0 or -errno.
 */
static int bind_with_memory_on(struct _test_data_tsm_vfio *self, uint16_t *cmd)
{
	int rc = assign(self, 1);

	if (!rc)
		rc = tsm_cfg_read(self->v.devfd, self->v.cfg_off, PCI_COMMAND, cmd, 2);
	if (rc)
		return rc;
	*cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	rc = tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_COMMAND, cmd, 2);
	if (!rc)
		rc = connect_fw(self);
	if (!rc)
		rc = tsm_vfio_bind(self->v.devfd, self->v.vdevice_id);
	return rc;
}

/*
 * Opens the harness's second test function ("tsm1", its BDF into @other) on
 * vfio-pci-tsm through the cdev, bound to the fixture's iommufd (after
 * assign()) as *@dev_id. Returns its fd.
 */
static int open_other(struct _test_data_tsm_vfio *self, char *other, size_t len,
		      uint32_t *dev_id)
{
	int rc = tsm_find_device("tsm1", other, len), fd;

	if (!rc)
		rc = tsm_bind_driver(other, TSM_VFIO_DRV);
	if (rc)
		return rc;
	fd = tsm_open_vfio_cdev(other);
	if (fd < 0)
		return fd;
	rc = tsm_bind_iommufd(fd, self->v.iommufd, dev_id);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * VFIO_DEVICE_PCI_HOT_RESET of the unconnected test device: 0 on arm64 (the
 * device is alone behind its root port); ENOTTY on x86_64 (QEMU 10.0 q35),
 * where the bus reset itself fails, after vfio asked the driver: connected
 * or bound, the driver's EBUSY comes first on both.
 */
#if defined(__aarch64__)
#define HOT_RESET_UNBOUND 0
#else
#define HOT_RESET_UNBOUND ENOTTY
#endif

/* For the tests of vDEVICEs and IOMMU_VDEVICE_TSM_OP */
#define NEEDS_VIOMMU() do {						\
		if (!TSM_HAVE_VIOMMU)					\
			SKIP(return, "needs an iommufd vIOMMU (arm64 guest)"); \
	} while (0)

/* The TDISP state the emulated DSM itself reports for the device is @want. */
#define EXPECT_DSM(want) do {						\
		char _st[64] = "";					\
		EXPECT_EQ(0, tsm_dsm_tdi_state(self->bdf, _st, sizeof(_st)));	\
		EXPECT_STREQ(want, _st);				\
	} while (0)

/*
 * What the device saw of the host until now (tsm-dsm's view, from QEMU's trace
 * of the config writes that reached it), to assert afterwards that what was
 * refused in between never reached it.
 */
#define DEVICE_SAW(h) ASSERT_EQ(0, tsm_dsm_host(self->bdf, &(h)))

/*
 * Since DEVICE_SAW(@before) no config write or MMIO access reached the
 * device, nor did its state change.
 */
#define EXPECT_DEVICE_SAW_NOTHING(before) TSM_EXPECT_DEVICE_SAW_NOTHING(self->bdf, before)

/*
 * Between DEVICE_SAW(@saw) and DEVICE_SAW(@now) one config write reached the
 * device, which counted one violation caused by @event at config offset @off
 * (host.last_violation "<event>@<off>").
 */
#define EXPECT_WRITE_VIOLATION(saw, now, event, off) do {		\
		char _want[64];						\
		snprintf(_want, sizeof(_want), "%s@%#x", (event), (unsigned int)(off)); \
		EXPECT_EQ((saw).cfg_writes + 1, (now).cfg_writes);	\
		EXPECT_EQ((saw).violations + 1, (now).violations);	\
		EXPECT_STREQ(_want, (now).last_violation);		\
	} while (0)

/* Every errno that needs no connected device. */
TEST_F(tsm_vfio, errnos_unconnected)
{
	struct vfio_device_tsm_bind b = { .argsz = sizeof(b) };
	struct vfio_device_tsm_unbind u = { .argsz = sizeof(u) };
	struct iommu_vdevice_tsm_op o = { .size = sizeof(o) };
	struct {
		struct vfio_device_tsm_bind b;
		uint32_t more[2];
	} big = { .b = { .argsz = sizeof(big) } };
	struct {
		struct iommu_vdevice_tsm_op o;
		uint32_t more[2];
	} obig = { .o = { .size = sizeof(obig), .type = IOMMU_VDEVICE_TSM_BIND } };
	uint32_t len = 64;
	uint64_t code;
	char resp[64];

	ASSERT_EQ(0, assign(self, 1));
	b.vdevice_id = self->v.vdevice_id;
	big.b.vdevice_id = self->v.vdevice_id;

	/* VFIO_DEVICE_TSM_BIND */
	b.argsz = sizeof(b) - 1;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_BIND, &b));
	EXPECT_EQ(EINVAL, errno);
	b.argsz = sizeof(b);
	b.flags = 1;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_BIND, &b));
	EXPECT_EQ(EINVAL, errno);
	b.flags = 0;
	b.pad = 1;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_BIND, &b));
	EXPECT_EQ(EINVAL, errno);
	b.pad = 0;
	big.more[1] = 1;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_BIND, &big));
	EXPECT_EQ(EINVAL, errno);
	/* A longer zero-filled argument is fine (extensible): not connected */
	big.more[1] = 0;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_BIND, &big));
	EXPECT_EQ(ENXIO, errno);
	/* No such vDEVICE; an object that is not a vDEVICE */
	EXPECT_EQ(-ENOENT, tsm_vfio_bind(self->v.devfd, 0xdead));
	if (TSM_HAVE_VIOMMU)
		EXPECT_EQ(-ENOENT, tsm_vfio_bind(self->v.devfd,
						 self->v.viommu_id));
	/* Bind without connect */
	EXPECT_EQ(-ENXIO, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));

	/* VFIO_DEVICE_TSM_UNBIND */
	u.argsz = 4;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_UNBIND, &u));
	EXPECT_EQ(EINVAL, errno);
	u.argsz = sizeof(u);
	u.flags = 1;
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_TSM_UNBIND, &u));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENXIO, tsm_vfio_unbind(self->v.devfd));

	/* VFIO_DEVICE_TSM_GUEST_REQ with nothing bound */
	len = 64;
	EXPECT_EQ(-ENXIO, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_STATE,
					resp, &len, &code));

	/* IOMMU_VDEVICE_TSM_OP, with iommufd's errno conventions */
	if (!TSM_HAVE_VIOMMU)
		return;
	o.vdevice_id = self->v.vdevice_id;
	o.type = IOMMU_VDEVICE_TSM_BIND;
	o.size = 8;
	EXPECT_EQ(-1, ioctl(self->v.iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EINVAL, errno);
	o.size = sizeof(o);
	o.flags = 1;
	EXPECT_EQ(-1, ioctl(self->v.iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EOPNOTSUPP, errno);
	o.flags = 0;
	/* 0 is no operation: a zeroed argument does nothing */
	o.type = 0;
	EXPECT_EQ(-1, ioctl(self->v.iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EOPNOTSUPP, errno);
	o.type = 7;
	EXPECT_EQ(-1, ioctl(self->v.iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* A longer argument: its extra bytes must be zero */
	obig.o.vdevice_id = self->v.vdevice_id;
	obig.more[1] = 1;
	EXPECT_EQ(-1, ioctl(self->v.iommufd, IOMMU_VDEVICE_TSM_OP, &obig));
	EXPECT_EQ(E2BIG, errno);
	obig.more[1] = 0;
	EXPECT_EQ(-1, ioctl(self->v.iommufd, IOMMU_VDEVICE_TSM_OP, &obig));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-ENOENT, tsm_iommufd_op(self->v.iommufd,
					  IOMMU_VDEVICE_TSM_BIND, 0xdead));
	EXPECT_EQ(-ENXIO, tsm_iommufd_op(self->v.iommufd, IOMMU_VDEVICE_TSM_BIND,
					 self->v.vdevice_id));
	EXPECT_EQ(-ENXIO, tsm_iommufd_op(self->v.iommufd,
					 IOMMU_VDEVICE_TSM_UNBIND,
					 self->v.vdevice_id));
}

/* VFIO_DEVICE_TSM_GUEST_REQ with every field given: the residue or -errno. */
static int guest_req_raw(int devfd, struct vfio_device_tsm_guest_req *r)
{
	int rc = ioctl(devfd, VFIO_DEVICE_TSM_GUEST_REQ, r);

	return rc < 0 ? -errno : rc;
}

/*
 * Every documented errno of VFIO_DEVICE_TSM_GUEST_REQ on a bound TDI (ENXIO
 * unbound is in errnos_unconnected, EOPNOTSUPP without TEE-IO driver in
 * plain_vfio_pci_refuses), the residue of a success, a report larger than
 * the buffer refused with the size it needs (and nothing written), and a
 * request with a payload (req_len > 0: GET_REPORT from an offset).
 */
TEST_F_TIMEOUT(tsm_vfio, guest_req_errnos, 240)
{
	uint8_t payload[16] = { 0 }, resp[4096], full[4096], small[16];
	struct vfio_device_tsm_guest_req r, ok = {
		.argsz = sizeof(ok),
		.op = TSM_FW_GUEST_GET_STATE,
		.tvm_arch = IOMMU_VDEVICE_TSM_TVM_ARCH_EMU,
		.resp_uptr = (uint64_t)(uintptr_t)resp,
		.resp_len = sizeof(resp),
	};
	struct {
		struct vfio_device_tsm_guest_req r;
		uint32_t more[2];
	} big;
	uint32_t off = 16, need;
	int rc;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));

	/* GET_STATE: one byte of response; the rest is the residue */
	r = ok;
	EXPECT_EQ((int)sizeof(resp) - 1, guest_req_raw(self->v.devfd, &r));
	EXPECT_EQ((uint64_t)TSM_FW_TDI_CONFIG_LOCKED, r.tsm_code);
	EXPECT_EQ(sizeof(resp), r.resp_len);

	/* The whole report, then too small a buffer: ENOSPC, the size needed */
	r = ok;
	r.op = TSM_FW_GUEST_GET_REPORT;
	r.resp_uptr = (uint64_t)(uintptr_t)full;
	r.resp_len = sizeof(full);
	rc = guest_req_raw(self->v.devfd, &r);
	ASSERT_LE(0, rc);
	need = sizeof(full) - rc;
	ASSERT_LT(sizeof(small), need);
	memset(small, 0xa5, sizeof(small));
	r.resp_uptr = (uint64_t)(uintptr_t)small;
	r.resp_len = sizeof(small);
	EXPECT_EQ(-ENOSPC, guest_req_raw(self->v.devfd, &r));
	EXPECT_EQ(need, r.resp_len);
	memset(resp, 0xa5, sizeof(small));
	EXPECT_EQ(0, memcmp(small, resp, sizeof(small))) TH_LOG("buffer written");
	/* Exactly the size needed: no residue */
	r.resp_uptr = (uint64_t)(uintptr_t)resp;
	r.resp_len = need;
	EXPECT_EQ(0, guest_req_raw(self->v.devfd, &r));
	EXPECT_EQ(0, memcmp(resp, full, need));
	/* With a payload: the report from an offset */
	r.req_uptr = (uint64_t)(uintptr_t)&off;
	r.req_len = sizeof(off);
	r.resp_len = sizeof(resp);
	EXPECT_EQ((int)(sizeof(resp) - (need - off)),
		  guest_req_raw(self->v.devfd, &r));
	EXPECT_EQ(0, memcmp(resp, full + off, need - off));
	/* A payload the op does not take: EINVAL */
	off = need + 1;
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));
	r.req_len = 3;
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.req_uptr = (uint64_t)(uintptr_t)payload;
	r.req_len = sizeof(payload);
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));

	/* The envelope: what this kernel or this TSM does not know */
	r = ok;
	r.tvm_arch = 0;
	EXPECT_EQ(-EOPNOTSUPP, guest_req_raw(self->v.devfd, &r));
	r.tvm_arch = 0x1234;
	EXPECT_EQ(-EOPNOTSUPP, guest_req_raw(self->v.devfd, &r));
	r.tvm_arch = IOMMU_VDEVICE_TSM_TVM_ARCH_CCA;
	EXPECT_EQ(-EOPNOTSUPP, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.op = 99;
	EXPECT_EQ(-EOPNOTSUPP, guest_req_raw(self->v.devfd, &r));

	/* The argument */
	r = ok;
	r.argsz = offsetof(struct vfio_device_tsm_guest_req, tsm_code);
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.flags = 1;
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.req_len = 4096 + 1;
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.resp_len = 65536 + 1;
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.req_uptr = 8;
	r.req_len = 4;
	EXPECT_EQ(-EFAULT, guest_req_raw(self->v.devfd, &r));
	r = ok;
	r.resp_uptr = 8;
	EXPECT_EQ(-EFAULT, guest_req_raw(self->v.devfd, &r));
	/* A longer argument: extra bytes must be zero */
	memset(&big, 0, sizeof(big));
	big.r = ok;
	big.r.argsz = sizeof(big);
	big.more[1] = 1;
	EXPECT_EQ(-EINVAL, guest_req_raw(self->v.devfd, &big.r));
	big.more[1] = 0;
	EXPECT_EQ((int)sizeof(resp) - 1, guest_req_raw(self->v.devfd, &big.r));
	/* None of it moved the TDI */
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
}

/*
 * The upstream iommufd TSM series' layouts, typed here from the series (v5:
 * IOMMU_VDEVICE_TSM_OP; v7: IOMMU_VDEVICE_TSM_REQ), not taken from our
 * headers: what a VMM written against that series sends.
 */
struct up_tsm_op {			/* v5 */
	uint32_t size;
	uint32_t type;			/* 1 bind, 2 unbind */
	uint32_t flags;
	uint32_t vdevice_id;
};

struct up_tsm_req {			/* v7 */
	uint32_t size;
	uint32_t vdevice_id;
	uint32_t op;
	uint32_t tvm_arch;		/* 1 CCA, 2 SEV, 3 TDX */
	uint32_t req_len;
	uint32_t resp_len;
	uint64_t req_uptr __attribute__((aligned(8)));
	uint64_t resp_uptr __attribute__((aligned(8)));
	uint64_t tsm_code __attribute__((aligned(8)));
};

#define UP_IOMMU_VDEVICE_TSM_OP		_IO(';', 0x95)
#define UP_IOMMU_VDEVICE_TSM_REQ	_IO(';', 0x96)
/* Not upstream: the emulated platform of this project */
#define UP_TVM_ARCH_EMU			0x8000

/* Our uAPI headers against the upstream layouts and values, field by field. */
TEST(uapi_layout)
{
#define SAME_FIELD(ours, up, f)						\
	do {								\
		EXPECT_EQ(offsetof(struct ours, f), offsetof(struct up, f)); \
		EXPECT_EQ(sizeof(((struct ours *)0)->f),		\
			  sizeof(((struct up *)0)->f));			\
	} while (0)

	EXPECT_EQ(UP_IOMMU_VDEVICE_TSM_OP, IOMMU_VDEVICE_TSM_OP);
	EXPECT_EQ(UP_IOMMU_VDEVICE_TSM_REQ, IOMMU_VDEVICE_TSM_REQ);
	EXPECT_EQ(16U, sizeof(struct iommu_vdevice_tsm_op));
	SAME_FIELD(iommu_vdevice_tsm_op, up_tsm_op, size);
	SAME_FIELD(iommu_vdevice_tsm_op, up_tsm_op, type);
	SAME_FIELD(iommu_vdevice_tsm_op, up_tsm_op, flags);
	SAME_FIELD(iommu_vdevice_tsm_op, up_tsm_op, vdevice_id);
	EXPECT_EQ(1, IOMMU_VDEVICE_TSM_BIND);
	EXPECT_EQ(2, IOMMU_VDEVICE_TSM_UNBIND);

	EXPECT_EQ(48U, sizeof(struct iommu_vdevice_tsm_req));
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, size);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, vdevice_id);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, op);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, tvm_arch);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, req_len);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, resp_len);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, req_uptr);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, resp_uptr);
	SAME_FIELD(iommu_vdevice_tsm_req, up_tsm_req, tsm_code);
	EXPECT_EQ(1, IOMMU_VDEVICE_TSM_TVM_ARCH_CCA);
	EXPECT_EQ(2, IOMMU_VDEVICE_TSM_TVM_ARCH_SEV);
	EXPECT_EQ(3, IOMMU_VDEVICE_TSM_TVM_ARCH_TDX);
	EXPECT_EQ(UP_TVM_ARCH_EMU, IOMMU_VDEVICE_TSM_TVM_ARCH_EMU);

	/* The VFIO guest request: the v7 envelope, argsz/flags first */
	EXPECT_EQ(48U, sizeof(struct vfio_device_tsm_guest_req));
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, op);
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, tvm_arch);
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, req_len);
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, resp_len);
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, req_uptr);
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, resp_uptr);
	SAME_FIELD(vfio_device_tsm_guest_req, up_tsm_req, tsm_code);
	EXPECT_EQ(16U, sizeof(struct vfio_device_tsm_bind));
	EXPECT_EQ(8U, sizeof(struct vfio_device_tsm_unbind));
	EXPECT_EQ(_IO(VFIO_TYPE, VFIO_BASE + 22), VFIO_DEVICE_TSM_BIND);
	EXPECT_EQ(_IO(VFIO_TYPE, VFIO_BASE + 23), VFIO_DEVICE_TSM_UNBIND);
	EXPECT_EQ(_IO(VFIO_TYPE, VFIO_BASE + 24), VFIO_DEVICE_TSM_GUEST_REQ);
#undef SAME_FIELD
}

static int up_op(int iommufd, uint32_t type, uint32_t vdevice_id)
{
	struct up_tsm_op o = {
		.size = sizeof(o), .type = type, .vdevice_id = vdevice_id,
	};

	return ioctl(iommufd, UP_IOMMU_VDEVICE_TSM_OP, &o) ? -errno : 0;
}

static int up_req(int iommufd, struct up_tsm_req *q)
{
	int rc = ioctl(iommufd, UP_IOMMU_VDEVICE_TSM_REQ, q);

	return rc < 0 ? -errno : rc;
}

/* An IOMMU_VDEVICE_TSM_REQ for the TDI's state, answered into @resp. */
static struct up_tsm_req up_state_req(uint32_t vdevice_id, void *resp,
				      uint32_t resp_len)
{
	return (struct up_tsm_req) {
		.size = sizeof(struct up_tsm_req), .vdevice_id = vdevice_id,
		.op = TSM_FW_GUEST_GET_STATE, .tvm_arch = UP_TVM_ARCH_EMU,
		.resp_len = resp_len, .resp_uptr = (uint64_t)(uintptr_t)resp,
		.tsm_code = ~0ull,
	};
}

/*
 * A VMM written from the upstream layouts only: binds (v5 TSM_OP), asks for
 * the report with a payload (req_len > 0) into too small a buffer and is told
 * the size it needs, reads it with that size, moves the TDI to RUN, unbinds.
 * Then every documented errno of IOMMU_VDEVICE_TSM_REQ.
 */
TEST_F_TIMEOUT(tsm_vfio, upstream_layout_vmm, 240)
{
	uint8_t resp[4096], small[8];
	uint32_t off = 0, need;
	struct {
		struct up_tsm_req q;
		uint32_t more[2];
	} big;
	struct up_tsm_req q, ok;
	int rc;

	NEEDS_VIOMMU();
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, up_op(self->v.iommufd, 1, self->v.vdevice_id));
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");

	ok = (struct up_tsm_req) {
		.size = sizeof(ok), .vdevice_id = self->v.vdevice_id,
		.op = TSM_FW_GUEST_GET_REPORT, .tvm_arch = UP_TVM_ARCH_EMU,
		.req_len = sizeof(off), .req_uptr = (uint64_t)(uintptr_t)&off,
		.resp_len = sizeof(small),
		.resp_uptr = (uint64_t)(uintptr_t)small,
	};
	q = ok;
	EXPECT_EQ(-ENOSPC, up_req(self->v.iommufd, &q));
	need = q.resp_len;
	EXPECT_LT(sizeof(small), need);
	EXPECT_GE(sizeof(resp), need);
	q = ok;
	q.resp_uptr = (uint64_t)(uintptr_t)resp;
	q.resp_len = need;
	EXPECT_EQ(0, up_req(self->v.iommufd, &q));
	EXPECT_EQ(need, q.resp_len);
	/* A TDISP interface report: its MMIO ranges (count at 12) fill it */
	memcpy(&off, resp + 12, sizeof(off));
	ASSERT_LE(20 + 16 * off, need);
	EXPECT_EQ(need, 16 + 16 * off + 4 + (resp[16 + 16 * off] |
			resp[17 + 16 * off] << 8 | resp[18 + 16 * off] << 16 |
			resp[19 + 16 * off] << 24));
	off = 0;
	q.resp_len = sizeof(resp);
	EXPECT_EQ((int)(sizeof(resp) - need), up_req(self->v.iommufd, &q));

	q = ok;
	q.op = TSM_FW_GUEST_START;
	q.req_len = 0;
	q.resp_uptr = (uint64_t)(uintptr_t)resp;
	q.resp_len = sizeof(resp);
	EXPECT_LE(0, up_req(self->v.iommufd, &q));
	q.op = TSM_FW_GUEST_GET_STATE;
	EXPECT_EQ((int)sizeof(resp) - 1, up_req(self->v.iommufd, &q));
	EXPECT_EQ((uint64_t)TSM_FW_TDI_RUN, q.tsm_code);
	EXPECT_DSM("RUN");

	/* Errnos, with the TDI bound */
	q = ok;
	q.size = 40;
	EXPECT_EQ(-EINVAL, up_req(self->v.iommufd, &q));
	memset(&big, 0, sizeof(big));
	big.q = ok;
	big.q.size = sizeof(big);
	big.more[1] = 1;
	EXPECT_EQ(-E2BIG, up_req(self->v.iommufd, &big.q));
	q = ok;
	q.vdevice_id = 0xdead;
	EXPECT_EQ(-ENOENT, up_req(self->v.iommufd, &q));
	q = ok;
	q.tvm_arch = 0;
	EXPECT_EQ(-EOPNOTSUPP, up_req(self->v.iommufd, &q));
	q.tvm_arch = 1;		/* CCA: not this platform */
	EXPECT_EQ(-EOPNOTSUPP, up_req(self->v.iommufd, &q));
	q = ok;
	q.op = 99;
	EXPECT_EQ(-EOPNOTSUPP, up_req(self->v.iommufd, &q));
	q = ok;
	q.req_len = 3;
	EXPECT_EQ(-EINVAL, up_req(self->v.iommufd, &q));
	q = ok;
	q.resp_len = 65536 + 1;
	EXPECT_EQ(-EINVAL, up_req(self->v.iommufd, &q));
	q = ok;
	q.req_uptr = 8;
	EXPECT_EQ(-EFAULT, up_req(self->v.iommufd, &q));
	q = ok;
	q.resp_uptr = 8;
	q.resp_len = sizeof(resp);
	EXPECT_EQ(-EFAULT, up_req(self->v.iommufd, &q));
	EXPECT_DSM("RUN");

	ASSERT_EQ(0, up_op(self->v.iommufd, 2, self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	/* Unbound: no TDI */
	q = ok;
	rc = up_req(self->v.iommufd, &q);
	EXPECT_EQ(-ENXIO, rc);
}

/* Without KVM_DEV_VFIO_FILE_ADD before BIND_IOMMUFD the device has no kvm. */
TEST_F(tsm_vfio, bind_without_kvm)
{
	ASSERT_EQ(0, assign(self, 0));
	EXPECT_EQ(-ENOTCONN, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	if (TSM_HAVE_VIOMMU)
		EXPECT_EQ(-ENOTCONN, tsm_iommufd_op(self->v.iommufd,
						    IOMMU_VDEVICE_TSM_BIND,
						    self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));
}

/* The plain vfio-pci driver offers no TSM bind. */
TEST_F(tsm_vfio, plain_vfio_pci_refuses)
{
	struct up_tsm_req q;
	uint8_t resp[64];
	uint32_t len;
	uint64_t code;
	int fd;

	ASSERT_EQ(0, tsm_bind_driver(self->bdf, "vfio-pci"));
	ASSERT_EQ(0, assign(self, 1));
	EXPECT_EQ(-ENOTTY, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	len = sizeof(resp);
	EXPECT_EQ(-ENOTTY, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_STATE,
					 resp, &len, &code));
	if (TSM_HAVE_VIOMMU) {
		EXPECT_EQ(-EOPNOTSUPP, tsm_iommufd_op(self->v.iommufd,
						      IOMMU_VDEVICE_TSM_BIND,
						      self->v.vdevice_id));
		q = up_state_req(self->v.vdevice_id, resp, sizeof(resp));
		EXPECT_EQ(-EOPNOTSUPP, up_req(self->v.iommufd, &q));
	}
	/* What vfio-pci-tsm must match unbound: a BAR exports as a dma-buf */
	fd = tsm_dma_buf_export(self->v.devfd, 0, 4096);
	EXPECT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
	/* The fixture rebinds vfio-pci-tsm once KVM let go of the file */
}

/*
 * A VMM that opens the device through the legacy group and container has no
 * iommufd, so no vDEVICE and no TEE-IO ops: every TSM ioctl of the device is
 * EOPNOTSUPP, also with the device connected, and none reaches it.
 */
TEST_F_TIMEOUT(tsm_vfio, group_path_refuses_tsm_ioctls, 240)
{
	struct tsm_dsm_host before;
	uint64_t code = ~0ull;
	int container, group, fd;
	uint8_t resp[64];
	uint32_t len = sizeof(resp);

	fd = tsm_open_vfio_group(self->bdf, &container, &group);
	ASSERT_LE(0, fd) TH_LOG("group open: %s", strerror(-fd));
	ASSERT_EQ(0, connect_fw(self));
	DEVICE_SAW(before);
	EXPECT_EQ(-EOPNOTSUPP, tsm_vfio_bind(fd, 0));
	EXPECT_EQ(-EOPNOTSUPP, tsm_vfio_bind(fd, 1));
	EXPECT_EQ(-EOPNOTSUPP, tsm_guest_req(fd, TSM_FW_GUEST_GET_STATE, resp,
					     &len, &code));
	EXPECT_EQ(0ull, code);
	EXPECT_EQ(-EOPNOTSUPP, tsm_vfio_unbind(fd));
	EXPECT_EQ(0, bound(self));
	EXPECT_DEVICE_SAW_NOTHING(before);
	EXPECT_STREQ("CONFIG_UNLOCKED", before.tdi);
	close(fd);
	close(group);
	close(container);
}

/*
 * The lifecycle through the VFIO cdev: bind, everything that would break the
 * TDI refused while bound, guest requests, unbind, then allowed again.
 */
TEST_F_TIMEOUT(tsm_vfio, vfio_bind_refusals_unbind, 240)
{
	struct vfio_region_info bar0;
	struct vfio_pci_hot_reset hr = { .argsz = sizeof(hr) };
	struct tsm_dsm_host before, after;
	uint8_t hw_before[64], hw_after[64];
	uint32_t len, vbar, v32;
	uint16_t cmd, v16;
	uint64_t code;
	char resp[4096];
	int rc;
	void *map;

	/*
	 * The test platform is fixed (harness/qemu.py): a QEMU nvme with PCIe and PM
	 * capabilities, an mmap-able BAR0, alone behind its own root port, so every
	 * refusal below is asserted, none depends on what the device happens to offer.
	 */
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_TRUE((bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0);
	/* Unbound, the device alone on its bus can be hot reset (not on x86) */
	rc = ioctl(self->v.devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr) ? errno : 0;
	ASSERT_EQ(HOT_RESET_UNBOUND, rc) TH_LOG("hot reset before bind: %s", strerror(rc));
	/* Memory and bus master on, as a guest driver would have them */
	ASSERT_EQ(0, tsm_cfg_read(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));

	ASSERT_EQ(0, connect_fw(self));
	rc = tsm_vfio_bind(self->v.devfd, self->v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	ASSERT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	/* Double bind, through either uAPI */
	EXPECT_EQ(-EBUSY, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	if (TSM_HAVE_VIOMMU)
		EXPECT_EQ(-EBUSY, tsm_iommufd_op(self->v.iommufd,
						 IOMMU_VDEVICE_TSM_BIND,
						 self->v.vdevice_id));
	/* Every host path is refused, CONFIG_LOCKED (the lock covers MSI-X) */
	tsm_expect_locked(_metadata, self->bdf, &self->v, cmd, true);

	/* Guest requests reach the TSM: locked, report, START -> RUN */
	len = sizeof(resp);
	EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_STATE, resp,
				   &len, &code));
	EXPECT_EQ((uint64_t)TSM_FW_TDI_CONFIG_LOCKED, code);
	len = sizeof(resp);
	EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_REPORT, resp,
				   &len, &code));
	EXPECT_LT(16U, len);
	len = sizeof(resp);
	EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_START, resp, &len,
				   &code));
	len = sizeof(resp);
	EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_STATE, resp,
				   &len, &code));
	EXPECT_EQ((uint64_t)TSM_FW_TDI_RUN, code);
	EXPECT_DSM("RUN");
	/* And in RUN */
	tsm_expect_locked(_metadata, self->bdf, &self->v, cmd, true);
	DEVICE_SAW(before);

	/* A write keeping MSE and BME: allowed; it reaches the device, and harms nothing */
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));
	DEVICE_SAW(after);
	EXPECT_EQ(before.cfg_writes + 1, after.cfg_writes);
	EXPECT_EQ(before.events, after.events);
	EXPECT_STREQ("RUN", after.tdi);
	before = after;
	/*
	 * BAR sizing, as a guest probing its BARs does: vfio virtualizes the BARs, so
	 * nothing reaches the device and the write is allowed; the device's BAR0 is
	 * the same before and after.
	 */
	ASSERT_EQ(0, tsm_read_config(self->bdf, hw_before, sizeof(hw_before)));
	ASSERT_EQ(0, tsm_cfg_read(self->v.devfd, self->v.cfg_off, PCI_BASE_ADDRESS_0,
				  &vbar, 4));
	v32 = 0xffffffff;
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_BASE_ADDRESS_0,
				   &v32, 4));
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_BASE_ADDRESS_0,
				   &vbar, 4));
	ASSERT_EQ(0, tsm_read_config(self->bdf, hw_after, sizeof(hw_after)));
	EXPECT_EQ(0, memcmp(hw_before + PCI_BASE_ADDRESS_0, hw_after + PCI_BASE_ADDRESS_0, 4));
	EXPECT_EQ(1, bound(self));
	EXPECT_DEVICE_SAW_NOTHING(before);

	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	EXPECT_EQ(-ENXIO, tsm_vfio_unbind(self->v.devfd));

	/* Allowed again */
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->v.devfd, bar0.offset);
	EXPECT_NE(MAP_FAILED, map);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	/*
	 * The control of the refusals above: the same BME clear, unlocked, reaches
	 * the device, which sees the event and counts no violation.
	 */
	DEVICE_SAW(before);
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &v16, 2));
	DEVICE_SAW(after);
	EXPECT_EQ(before.cfg_writes + 1, after.cfg_writes);
	EXPECT_EQ(before.events + 1, after.events);
	EXPECT_EQ(before.violations, after.violations);
	EXPECT_STREQ("CONFIG_UNLOCKED", after.tdi);
	rc = ioctl(self->v.devfd, VFIO_DEVICE_RESET) ? errno : 0;
	EXPECT_EQ(0, rc) TH_LOG("reset after unbind: %s", strerror(rc));
	/* Still connected: a bus reset would cost the device its session */
	DEVICE_SAW(before);
	rc = ioctl(self->v.devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr) ? errno : 0;
	EXPECT_EQ(EBUSY, rc) TH_LOG("hot reset after unbind: %s", strerror(rc));
	EXPECT_DEVICE_SAW_NOTHING(before);
	EXPECT_STREQ("established", before.spdm);
}

/* The lifecycle through iommufd: IOMMU_VDEVICE_TSM_OP, same layer. */
TEST_F_TIMEOUT(tsm_vfio, iommufd_bind_unbind, 240)
{
	struct tsm_dsm_host saw;
	int rc;

	NEEDS_VIOMMU();
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	rc = tsm_iommufd_op(self->v.iommufd, IOMMU_VDEVICE_TSM_BIND,
			    self->v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	EXPECT_EQ(1, bound(self));
	DEVICE_SAW(saw);
	EXPECT_EQ(-EBUSY, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EBUSY, errno);
	/* Neither a second LOCK nor a reset reached the device */
	EXPECT_DEVICE_SAW_NOTHING(saw);
	ASSERT_EQ(0, tsm_iommufd_op(self->v.iommufd, IOMMU_VDEVICE_TSM_UNBIND,
				    self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_EQ(-ENXIO, tsm_iommufd_op(self->v.iommufd,
					 IOMMU_VDEVICE_TSM_UNBIND,
					 self->v.vdevice_id));
	/* Bound through iommufd, unbound through VFIO: one layer */
	ASSERT_EQ(0, tsm_iommufd_op(self->v.iommufd, IOMMU_VDEVICE_TSM_BIND,
				    self->v.vdevice_id));
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_EQ(0, bound(self));
}

/* Closing the device while bound unbinds (before it is disabled). */
TEST_F_TIMEOUT(tsm_vfio, close_while_bound, 240)
{
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	ASSERT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	/* KVM holds a file reference: a VMM drops it before the last close */
	ASSERT_EQ(0, tsm_kvm_vfio_del(self->v.kvmdev, self->v.devfd));
	close(self->v.devfd);
	self->v.devfd = -1;
	EXPECT_EQ(0, bound(self));
	/* Unbound (STOP) before the device was disabled: not ERROR */
	EXPECT_DSM("CONFIG_UNLOCKED");
	/* The device opens and binds again */
	close(self->v.iommufd);
	ASSERT_EQ(0, assign(self, 1));
	EXPECT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(1, bound(self));
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Signals arriving all through the close that unbinds (a VMM's timer, here
 * every millisecond, with a handler) do not cut the teardown short: the STOP
 * reaches the device, which ends CONFIG_UNLOCKED and binds again.
 */
TEST_F_TIMEOUT(tsm_vfio, signals_during_close_unbind, 240)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = {};

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_kvm_vfio_del(self->v.kvmdev, self->v.devfd));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &every_ms, NULL));
	close(self->v.devfd);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	self->v.devfd = -1;
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	close(self->v.iommufd);
	ASSERT_EQ(0, assign(self, 1));
	EXPECT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
}

/*
 * Signals arriving all through bind and guest requests (the same 1 ms timer):
 * each call completes or ends with EINTR, and whatever it did, the device stays
 * in step with the firmware: the session survives, an interrupted bind leaves
 * the TDI unlocked, and unsignalled the device binds, starts and unbinds.
 */
TEST_F_TIMEOUT(tsm_vfio, signals_during_bind_and_guest_requests, 300)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = {};
	char resp[4096];
	uint32_t len;
	uint64_t code;
	int rc, i, j;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	/* Binds under signals: each binds or ends with EINTR and nothing locked */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &every_ms, NULL));
		rc = tsm_vfio_bind(self->v.devfd, self->v.vdevice_id);
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
		EXPECT_TRUE(rc == 0 || rc == -EINTR) TH_LOG("bind: %s", strerror(-rc));
		if (bound(self) == 1) {
			EXPECT_EQ(0, rc);
			EXPECT_DSM("CONFIG_LOCKED");
			ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
		}
		EXPECT_EQ(0, bound(self));
		EXPECT_DSM("CONFIG_UNLOCKED");
	}
	/*
	 * Guest requests under signals, the TDI bound: each answers or ends with
	 * EINTR, and the next unsignalled one is answered (the session in step).
	 */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &every_ms, NULL));
		for (j = 0; j < 4; j++) {
			len = sizeof(resp);
			rc = tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_REPORT, resp,
					   &len, &code);
			EXPECT_TRUE(rc == 0 || rc == -EINTR)
				TH_LOG("report: %s", strerror(-rc));
		}
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
		len = sizeof(resp);
		EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_REPORT,
					   resp, &len, &code));
		EXPECT_DSM("CONFIG_LOCKED");
		ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
		EXPECT_DSM("CONFIG_UNLOCKED");
	}
	/* The session is in step: bind, a guest request and START still work */
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	len = sizeof(resp);
	EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_REPORT, resp, &len,
				   &code));
	len = sizeof(resp);
	EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_START, resp, &len, &code));
	EXPECT_DSM("RUN");
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * A VMM killed with SIGKILL while it holds a bound device: its files are
 * closed from do_exit() with the signal still pending, and the unbind (STOP)
 * must still reach the device; then the device connects and binds again.
 */
TEST_F_TIMEOUT(tsm_vfio, sigkill_of_vmm_holding_bound_device, 300)
{
	int ready[2], status, i;
	char c = 0;
	pid_t vmm;

	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, pipe(ready));
	vmm = fork();
	ASSERT_LE(0, vmm);
	if (vmm == 0) {
		struct tsm_vmm v;

		close(ready[0]);
		tsm_vmm_init(&v);
		v.vm = tsm_vm_create();
		if (v.vm < 0 || tsm_vmm_assign(&v, self->bdf, 1, VIRT_ID) ||
		    tsm_vfio_bind(v.devfd, v.vdevice_id))
			_exit(1);
		c = 1;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("the VMM did not bind");
	close(ready[0]);
	ASSERT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");

	ASSERT_EQ(0, kill(vmm, SIGKILL));
	ASSERT_EQ(vmm, waitpid(vmm, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	/* The last reference may be dropped by deferred work after the exit */
	for (i = 0; i < 100 && bound(self) != 0; i++)
		tsm_msleep(100);
	EXPECT_EQ(0, bound(self));
	/* STOP reached the device before vfio disabled it: not ERROR, not locked */
	EXPECT_DSM("CONFIG_UNLOCKED");

	/* The device reconnects, and another VMM binds it */
	EXPECT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	ASSERT_EQ(0, assign(self, 1));
	EXPECT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/* Destroying the vDEVICE while bound unbinds. */
TEST_F_TIMEOUT(tsm_vfio, vdevice_destroy_while_bound, 240)
{
	int rc;

	NEEDS_VIOMMU();
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	ASSERT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_destroy_obj(self->v.iommufd, self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	EXPECT_EQ(-ENXIO, tsm_vfio_unbind(self->v.devfd));
	EXPECT_EQ(-ENOENT, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	rc = ioctl(self->v.devfd, VFIO_DEVICE_RESET) ? errno : 0;
	EXPECT_EQ(0, rc) TH_LOG("reset after the unbind: %s", strerror(rc));
}

/*
 * While bound, no host path reaches the TDI's MMIO through the vfio regions:
 * BAR and ROM read/write and ioeventfd registration are refused, and an
 * ioeventfd registered before makes the bind fail. Unbound they work as on
 * vfio-pci.
 */
TEST_F_TIMEOUT(tsm_vfio, host_mmio_refused_while_bound, 240)
{
	struct vfio_region_info bar0, rom;
	/* The nvme doorbell page: a write there is what an ioeventfd is for */
	struct tsm_dsm_host saw, now;
	uint64_t db;
	int efd;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_ROM_REGION_INDEX, &rom));
	ASSERT_LE(0x2000ULL, bar0.size);
	db = bar0.offset + 0x1000;
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, connect_fw(self));

	/*
	 * Unbound: as vfio-pci (BAR0 offset 0 is the nvme CAP register); the
	 * device sees the read, and it is no violation
	 */
	DEVICE_SAW(saw);
	EXPECT_EQ(0, tsm_region_rw(self->v.devfd, bar0.offset, 0));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.mmio + 1, now.mmio);
	EXPECT_EQ(saw.violations, now.violations);
	ASSERT_EQ(0, tsm_ioeventfd(self->v.devfd, db, 0, efd));
	/* An ioeventfd is a host path to the BAR: no bind beside it */
	EXPECT_EQ(-EBUSY, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	if (TSM_HAVE_VIOMMU)
		EXPECT_EQ(-EBUSY, tsm_iommufd_op(self->v.iommufd,
						 IOMMU_VDEVICE_TSM_BIND,
						 self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	ASSERT_EQ(0, tsm_ioeventfd(self->v.devfd, db, 0, -1));

	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	ASSERT_EQ(1, bound(self));
	DEVICE_SAW(saw);
	ASSERT_STREQ("CONFIG_LOCKED", saw.tdi);
	EXPECT_EQ(-EBUSY, tsm_region_rw(self->v.devfd, bar0.offset, 0));
	EXPECT_EQ(-EBUSY, tsm_region_rw(self->v.devfd, bar0.offset + 0x14, 1));
	EXPECT_EQ(-EBUSY, tsm_region_rw(self->v.devfd, db, 1));
	/* Whatever the ROM region holds: reading it would enable the ROM BAR */
	EXPECT_EQ(-EBUSY, tsm_region_rw(self->v.devfd, rom.offset, 0));
	EXPECT_EQ(-EBUSY, tsm_ioeventfd(self->v.devfd, db, 0, efd));
	/*
	 * Nothing of that unbound the TDI or reached the device: no MMIO access,
	 * no config write (a ROM read would have enabled the ROM BAR)
	 */
	EXPECT_EQ(1, bound(self));
	EXPECT_DEVICE_SAW_NOTHING(saw);

	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
	DEVICE_SAW(saw);
	EXPECT_EQ(0, tsm_region_rw(self->v.devfd, bar0.offset, 0));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.mmio + 1, now.mmio);
	EXPECT_EQ(saw.violations, now.violations);
	EXPECT_EQ(0, tsm_ioeventfd(self->v.devfd, db, 0, efd));
	EXPECT_EQ(0, tsm_ioeventfd(self->v.devfd, db, 0, -1));
	close(efd);
}

/*
 * Low-power entry made before the bind: the device would resume for every
 * ioctl and suspend (D3hot) after it, taking a locked TDI to ERROR. The bind
 * refuses until the VMM leaves low power.
 */
TEST_F_TIMEOUT(tsm_vfio, low_power_entry_before_bind, 240)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
	};
	struct tsm_dsm_host saw, now;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, ioctl(self->v.devfd, VFIO_DEVICE_FEATURE, &f));
	DEVICE_SAW(saw);
	EXPECT_EQ(-EBUSY, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(0, bound(self));
	/*
	 * No LOCK_INTERFACE reached the device (its runtime suspend may still be
	 * writing PMCSR, so config writes are not counted here)
	 */
	DEVICE_SAW(now);
	EXPECT_EQ(saw.violations, now.violations);
	EXPECT_STREQ("CONFIG_UNLOCKED", now.tdi);
	EXPECT_STREQ(saw.spdm, now.spdm);
	f.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT;
	ASSERT_EQ(0, ioctl(self->v.devfd, VFIO_DEVICE_FEATURE, &f));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * The DOE mailbox belongs to the kernel's PCI/TSM in TEE mode, connected or
 * not: a config write there (an abort, or a request of the VMM's own) would
 * lose the SPDM session. vfio hides the capability; a raw write is refused.
 */
TEST_F_TIMEOUT(tsm_vfio, doe_mailbox_writes_refused, 240)
{
	uint32_t v = PCI_DOE_CTRL_ABORT;
	struct tsm_dsm_host before;
	int doe;

	ASSERT_EQ(0, assign(self, 1));
	doe = tsm_find_ext_cap(self->bdf, PCI_EXT_CAP_ID_DOE);
	ASSERT_LT(0, doe);
	DEVICE_SAW(before);
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off,
					doe + PCI_DOE_CTRL, &v, 4));
	EXPECT_DEVICE_SAW_NOTHING(before);
	ASSERT_EQ(0, connect_fw(self));
	DEVICE_SAW(before);
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off,
					doe + PCI_DOE_CTRL, &v, 4));
	/* A request of the VMM's own into the write mailbox, one byte too */
	v = 0x00010001;
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off,
					doe + PCI_DOE_WRITE, &v, 4));
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off,
					doe + PCI_DOE_CTRL + 3, &v, 1));
	/* An acknowledgement of a response dword nobody asked for */
	v = 0;
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off,
					doe + PCI_DOE_READ, &v, 4));
	/* None reached the mailbox: the session survived, and the kernel can use it */
	EXPECT_DEVICE_SAW_NOTHING(before);
	EXPECT_STREQ("established", before.spdm);
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * tsm/disconnect while bound: the core unbinds and tells the driver (its
 * notifier), whose locked state ends: nothing is refused any more.
 */
TEST_F_TIMEOUT(tsm_vfio, disconnect_while_bound, 240)
{
	struct vfio_region_info bar0;
	uint16_t cmd;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	EXPECT_EQ(-ENXIO, tsm_vfio_unbind(self->v.devfd));
	/* Nothing refused any more */
	ASSERT_EQ(0, tsm_cfg_read(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));
	cmd &= ~PCI_COMMAND_MASTER;
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	EXPECT_EQ(0, tsm_region_rw(self->v.devfd, bar0.offset, 0));
	/* Reconnect and bind again */
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	EXPECT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(1, bound(self));
}

/*
 * For a test that stopped the firmware (SIGSTOP): a child that resumes it after
 * @secs, so that a call the test expects not to wait for it ends (and fails the
 * test) instead of hanging. Returns the child's pid (or -1).
 */
static pid_t fw_watchdog(struct _test_data_tsm_vfio *self, unsigned int secs)
{
	pid_t dog = fork();

	if (dog == 0) {
		sleep(secs);
		kill(self->fw, SIGCONT);
		_exit(0);
	}
	return dog;
}

/*
 * A firmware that hangs while it connects one device (the PCI/TSM core holds
 * its locks for the whole firmware call) stalls no host access of another
 * device: config writes, BAR mmap, the page fault and BAR region reads read
 * only the driver's own state (fw_watchdog() resumes the firmware after 5 s).
 */
TEST_F_TIMEOUT(tsm_vfio, hung_firmware_stalls_no_other_device, 240)
{
	struct vfio_region_info bar0, cfg;
	uint32_t dev2_id = 0;
	pid_t conn, dog;
	char other[32];
	uint16_t cmd;
	int dev2, status;
	volatile uint32_t *map;
	double t0, took;

	ASSERT_EQ(0, assign(self, 1));
	dev2 = open_other(self, other, sizeof(other), &dev2_id);
	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, tsm_region_info(dev2, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_EQ(0, tsm_region_info(dev2, VFIO_PCI_CONFIG_REGION_INDEX, &cfg));
	/* The firmware answers (handshake done), then stops answering */
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	ASSERT_EQ(0, kill(self->fw, SIGSTOP));
	conn = fork();
	ASSERT_GE(conn, 0);
	if (conn == 0)
		_exit(-tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	dog = fw_watchdog(self, 5);
	ASSERT_GE(dog, 0);
	/* The connect is in its firmware call */
	tsm_msleep(500);
	ASSERT_EQ(0, waitpid(conn, &status, WNOHANG));

	t0 = tsm_now_ns();
	ASSERT_EQ(0, tsm_cfg_read(dev2, cfg.offset, PCI_COMMAND, &cmd, 2));
	EXPECT_EQ(0, tsm_cfg_write(dev2, cfg.offset, PCI_COMMAND, &cmd, 2));
	EXPECT_EQ(0, tsm_region_rw(dev2, bar0.offset, 0));
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev2, bar0.offset);
	ASSERT_NE(MAP_FAILED, map);
	/* nvme CAP (low half): never all-ones on a device that answers */
	EXPECT_NE(0xffffffffu, map[0]);
	munmap((void *)map, 4096);
	took = (tsm_now_ns() - t0) / 1e9;
	EXPECT_GT(1.0, took) TH_LOG("host accesses of %s took %.2f s beside a hung firmware",
				    other, took);
	/* The connect was still waiting for the firmware all along */
	EXPECT_EQ(0, waitpid(conn, &status, WNOHANG));

	kill(self->fw, SIGCONT);
	ASSERT_EQ(conn, waitpid(conn, &status, 0));
	ASSERT_EQ(dog, waitpid(dog, NULL, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("connect after the firmware resumed: %s",
						  strerror(WEXITSTATUS(status)));
	close(dev2);
}

/*
 * A guest request waiting for a hung firmware holds up no other VFIO call of
 * the device set: a reset of the bound device (which takes the device set's
 * lock) is refused at once, not after the firmware answers the request
 * (fw_watchdog() resumes the firmware after 5 s).
 */
TEST_F_TIMEOUT(tsm_vfio, guest_req_in_firmware_holds_no_device_set, 240)
{
	struct tsm_dsm_host saw, now;
	uint8_t resp[4096];
	uint32_t len;
	uint64_t code;
	pid_t req, dog;
	uint16_t cmd;
	int status, rc;
	double t0, took;

	ASSERT_EQ(0, bind_with_memory_on(self, &cmd));
	DEVICE_SAW(saw);
	ASSERT_STREQ("CONFIG_LOCKED", saw.tdi);
	ASSERT_EQ(0, kill(self->fw, SIGSTOP));
	req = fork();
	ASSERT_GE(req, 0);
	if (req == 0) {
		len = sizeof(resp);
		_exit(-tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_REPORT, resp,
				     &len, &code));
	}
	dog = fw_watchdog(self, 5);
	ASSERT_GE(dog, 0);
	/* The guest request is in its firmware call */
	tsm_msleep(500);
	ASSERT_EQ(0, waitpid(req, &status, WNOHANG));

	t0 = tsm_now_ns();
	rc = ioctl(self->v.devfd, VFIO_DEVICE_RESET) ? errno : 0;
	took = (tsm_now_ns() - t0) / 1e9;
	EXPECT_EQ(EBUSY, rc) TH_LOG("reset while bound: %s", strerror(rc));
	EXPECT_GT(1.0, took) TH_LOG("the reset waited %.2f s for a guest request", took);
	/* The request was still waiting for the firmware all along */
	EXPECT_EQ(0, waitpid(req, &status, WNOHANG));

	kill(self->fw, SIGCONT);
	ASSERT_EQ(req, waitpid(req, &status, 0));
	ASSERT_EQ(dog, waitpid(dog, NULL, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the guest request: %s",
						  strerror(WEXITSTATUS(status)));
	/*
	 * The reset never reached the device: no violation, the TDI still
	 * locked in the same session. (Its config writes did change: the
	 * report's DOE exchanges are config writes to the mailbox.)
	 */
	DEVICE_SAW(now);
	EXPECT_EQ(saw.violations, now.violations)
		TH_LOG("device saw a violation: %s", now.last_violation);
	EXPECT_STREQ("CONFIG_LOCKED", now.tdi);
	EXPECT_STREQ(saw.spdm, now.spdm);
	EXPECT_EQ(1, bound(self));
}

/*
 * A stale IOMMU_VDEVICE_TSM_OP: the VMM closed the device and it was opened
 * again through another iommufd, whose TDI is bound. The op through the
 * first iommufd, with the vDEVICE it had, neither unbinds nor binds the new
 * owner's TDI (the vDEVICE went with the first open: ENOENT), and neither
 * does the first iommufd naming the new vDEVICE's ID.
 */
TEST_F_TIMEOUT(tsm_vfio, stale_tsm_op_after_reopen, 240)
{
	struct tsm_vmm next;
	uint32_t old_vdev;
	int old_iommufd;

	NEEDS_VIOMMU();
	tsm_vmm_init(&next);
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	old_vdev = self->v.vdevice_id;
	/* The first VMM closes the device but keeps its iommufd */
	old_iommufd = self->v.iommufd;
	self->v.iommufd = -1;
	tsm_vmm_release(&self->v);
	/* The next owner: its own iommufd, vIOMMU and vDEVICE, bound */
	next.vm = self->v.vm;
	ASSERT_EQ(0, tsm_vmm_assign(&next, self->bdf, 1, VIRT_ID));
	ASSERT_EQ(0, tsm_vfio_bind(next.devfd, next.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");

	EXPECT_EQ(-ENOENT, tsm_iommufd_op(old_iommufd, IOMMU_VDEVICE_TSM_UNBIND,
					  old_vdev));
	EXPECT_EQ(-ENOENT, tsm_iommufd_op(old_iommufd, IOMMU_VDEVICE_TSM_BIND,
					  old_vdev));
	/* The new owner's vDEVICE ID (each iommufd numbers its own objects) */
	EXPECT_EQ(-ENOENT, tsm_iommufd_op(old_iommufd, IOMMU_VDEVICE_TSM_UNBIND,
					  next.vdevice_id));
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");

	EXPECT_EQ(0, tsm_vfio_unbind(next.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
	tsm_vmm_release(&next);
	close(old_iommufd);
}

/* delete_module(2) of @name without waiting: 0 or -errno. */
static int try_rmmod(const char *name)
{
	return syscall(__NR_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/*
 * Teardown while bound, by module unload: refused while the VMM holds the
 * device (vfio_pci_tsm) and while the firmware holds /dev/tsm_fw (tsm_emu);
 * nothing of it reaches the TDI.
 */
TEST_F_TIMEOUT(tsm_vfio, rmmod_refused_while_bound, 240)
{
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(-EWOULDBLOCK, try_rmmod("vfio_pci_tsm"));
	EXPECT_EQ(-EWOULDBLOCK, try_rmmod("tsm_emu"));
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

struct unbind_arg {
	const char *bdf;
	int rc;
	int done;
};

static void *unbind_thread(void *arg)
{
	struct unbind_arg *u = arg;

	u->rc = tsm_unbind_driver(u->bdf);
	__atomic_store_n(&u->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Teardown while bound, by unbinding the driver: vfio waits for the VMM to
 * let the device go (the TDI stays bound and locked meanwhile), and the
 * close unbinds the TDI before the driver is gone: the DSM ends
 * CONFIG_UNLOCKED.
 */
TEST_F_TIMEOUT(tsm_vfio, driver_unbind_while_bound, 240)
{
	struct unbind_arg u = { .bdf = self->bdf };
	char path[512];
	pthread_t t;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	ASSERT_EQ(0, pthread_create(&t, NULL, unbind_thread, &u));
	tsm_msleep(500);
	/* Still waiting for the VMM: the TDI untouched */
	EXPECT_EQ(0, __atomic_load_n(&u.done, __ATOMIC_ACQUIRE));
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	/* The VMM lets go: KVM's reference, then the last close */
	tsm_vmm_release(&self->v);
	pthread_join(t, NULL);
	EXPECT_EQ(0, u.rc);
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", self->bdf);
	EXPECT_NE(0, access(path, F_OK));
}

/* A vDEVICE of another device (same iommufd and vIOMMU) does not bind this one. */
TEST_F_TIMEOUT(tsm_vfio, vdevice_of_another_device, 240)
{
	uint32_t dev2_id = 0, vdev2_id = 0;
	char other[32];
	int dev2;

	NEEDS_VIOMMU();
	ASSERT_EQ(0, assign(self, 1));
	dev2 = open_other(self, other, sizeof(other), &dev2_id);
	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, tsm_attach_pt(dev2, self->v.hwpt_id));
	ASSERT_EQ(0, tsm_vdevice_alloc(self->v.iommufd, self->v.viommu_id,
				       dev2_id, 0x200, &vdev2_id));
	ASSERT_EQ(0, connect_fw(self));
	EXPECT_EQ(-EINVAL, tsm_vfio_bind(self->v.devfd, vdev2_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_EQ(0, tsm_bound(other));
	/* Its own vDEVICE binds */
	EXPECT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(1, bound(self));
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	close(dev2);
}

/* SIGBUS of a BAR access, caught in the thread that made it */
static __thread sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* Reads the u32 at @p into *@val: 0, or -EFAULT if it raised SIGBUS. */
static int bar_read(const volatile uint32_t *p, uint32_t *val)
{
	if (sigsetjmp(bus_jmp, 1))
		return -EFAULT;
	*val = *p;
	return 0;
}

/*
 * A host BAR mapping and a bound TDI never both reach the device: the bind
 * zaps the mappings made before it (also those of a split or a forked
 * copy), whose accesses then raise SIGBUS; mmap is refused while bound; the
 * same mappings work again after the unbind.
 */
TEST_F_TIMEOUT(tsm_vfio, bar_mappings_fault_while_bound, 240)
{
	struct vfio_region_info bar0;
	uint32_t cap = 0, v = 0;
	volatile uint32_t *map;
	int go[2], status;
	pid_t child;

	catch_sigbus();
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_BAR0_REGION_INDEX,
				     &bar0));
	/* The test platform's nvme BAR0 is mmap-able and larger than two pages */
	ASSERT_TRUE((bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0);
	ASSERT_LE(8192ULL, bar0.size);
	map = mmap(NULL, 8192, PROT_READ, MAP_SHARED, self->v.devfd, bar0.offset);
	ASSERT_NE(MAP_FAILED, map);
	/* Memory Space is on after open: BAR0 offset 0 is the nvme CAP register */
	ASSERT_EQ(0, bar_read(map, &cap));
	ASSERT_NE(0U, cap);
	ASSERT_EQ(0, bar_read(map + 1024, &v));
	ASSERT_EQ(0, connect_fw(self));
	/* A forked copy of the mapping, used once the device is bound */
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char c;

		signal(SIGBUS, SIG_DFL);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		v = map[0];
		_exit(0);	/* the read reached the BAR */
	}
	close(go[0]);
	/* Split into two VMAs: each is zapped */
	ASSERT_EQ(0, mprotect((void *)(map + 1024), 4096, PROT_NONE));

	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	EXPECT_EQ(-EFAULT, bar_read(map, &v));
	ASSERT_EQ(0, mprotect((void *)(map + 1024), 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, bar_read(map + 1024, &v));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("forked mapping: status %#x", status);
	close(go[1]);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED,
				   self->v.devfd, bar0.offset));
	EXPECT_EQ(EBUSY, errno);
	/* Nothing of that unbound the TDI */
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");

	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
	v = 0;
	EXPECT_EQ(0, bar_read(map, &v));
	EXPECT_EQ(cap, v);
	EXPECT_EQ(0, bar_read(map + 1024, &v));
	munmap((void *)map, 8192);
}

struct map_race {
	const volatile uint32_t *map;
	int stop;
	int overlap;	/* a read reached the BAR while bound */
	int reads, faults;
	const char *bdf;
};

static void *map_thread(void *arg)
{
	struct map_race *r = arg;
	uint32_t v;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		int before = tsm_bound(r->bdf), rc = bar_read(r->map, &v);

		if (!rc && before == 1 && tsm_bound(r->bdf) == 1)
			__atomic_store_n(&r->overlap, 1, __ATOMIC_RELAXED);
		if (rc)
			r->faults++;
		else
			r->reads++;
	}
	return NULL;
}

/*
 * Reads through a BAR mapping in a loop against bind/unbind: no read
 * reaches the device while it is bound (bound before and after the read),
 * and both outcomes happen, so the check can fail.
 */
TEST_F_TIMEOUT(tsm_vfio, bar_mapping_bind_race, 400)
{
	struct vfio_region_info bar0;
	struct map_race r = { 0 };
	pthread_t t;
	void *map;

	catch_sigbus();
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_BAR0_REGION_INDEX,
				     &bar0));
	ASSERT_TRUE((bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->v.devfd, bar0.offset);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, connect_fw(self));
	r.map = map;
	r.bdf = self->bdf;
	ASSERT_EQ(0, pthread_create(&t, NULL, map_thread, &r));
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
		tsm_msleep(20);
		ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
		tsm_msleep(20);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	munmap(map, 4096);
	TH_LOG("%d reads, %d faults", r.reads, r.faults);
	EXPECT_EQ(0, r.overlap);
	EXPECT_LT(0, r.reads);
	EXPECT_LT(0, r.faults);
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * MSI-X of a TDI whose MSI-X table the TSM locked (tsm_emu asks LOCK_MSIX
 * for every function with MSI-X): VFIO_DEVICE_SET_IRQS of MSI-X would
 * program the locked table and control, so it is refused while bound;
 * other IRQ indexes are not. Unbound, it works as on vfio-pci.
 */
TEST_F_TIMEOUT(tsm_vfio, set_irqs_refused_where_msix_locked, 240)
{
	int msix = tsm_find_cap(self->bdf, PCI_CAP_ID_MSIX);
	uint8_t before[256], after[256];
	struct tsm_dsm_host saw;
	int efd;

	ASSERT_LT(0, msix);
	ASSERT_EQ(0, assign(self, 1));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, connect_fw(self));
	/* Unbound: MSI-X on and off, as on vfio-pci */
	EXPECT_EQ(0, tsm_set_irq(self->v.devfd, VFIO_PCI_MSIX_IRQ_INDEX, efd));
	EXPECT_EQ(0, tsm_set_irq(self->v.devfd, VFIO_PCI_MSIX_IRQ_INDEX, -1));

	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_read_config(self->bdf, before, sizeof(before)));
	DEVICE_SAW(saw);
	EXPECT_EQ(-EBUSY, tsm_set_irq(self->v.devfd, VFIO_PCI_MSIX_IRQ_INDEX, efd));
	EXPECT_EQ(-EBUSY, tsm_set_irq(self->v.devfd, VFIO_PCI_MSIX_IRQ_INDEX, -1));
	/* The device request IRQ programs nothing on the device: allowed */
	EXPECT_EQ(0, tsm_set_irq(self->v.devfd, VFIO_PCI_REQ_IRQ_INDEX, efd));
	EXPECT_EQ(0, tsm_set_irq(self->v.devfd, VFIO_PCI_REQ_IRQ_INDEX, -1));
	/* MSI-X control on the device unchanged, the TDI still locked */
	ASSERT_EQ(0, tsm_read_config(self->bdf, after, sizeof(after)));
	EXPECT_EQ(0, memcmp(before + msix, after + msix, 4));
	EXPECT_EQ(1, bound(self));
	EXPECT_DEVICE_SAW_NOTHING(saw);

	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_EQ(0, tsm_set_irq(self->v.devfd, VFIO_PCI_MSIX_IRQ_INDEX, efd));
	EXPECT_EQ(0, tsm_set_irq(self->v.devfd, VFIO_PCI_MSIX_IRQ_INDEX, -1));
	close(efd);
}

/*
 * While the device is connected to the TSM, config writes vfio would pass
 * raw (here bytes of no capability, at the end of extended config space)
 * are refused: the TSM holds the device's security state. Unconnected they
 * pass as on vfio-pci; interpreted writes pass either way.
 */
TEST_F_TIMEOUT(tsm_vfio, raw_config_writes_refused_while_connected, 240)
{
	const uint32_t raw = 0xffc;	/* past the DOE capability, the only ecap */
	struct tsm_dsm_host saw, now;
	uint16_t cmd;
	uint32_t v = 0;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, tsm_cfg_read(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));
	/* Unconnected, the raw write reaches the device (the control) */
	DEVICE_SAW(saw);
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, raw, &v, 4));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.cfg_writes + 1, now.cfg_writes);
	ASSERT_EQ(0, connect_fw(self));
	DEVICE_SAW(saw);
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off, raw, &v, 4));
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off, raw + 1, &v, 1));
	EXPECT_DEVICE_SAW_NOTHING(saw);
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, PCI_COMMAND, &cmd, 2));
	/* Bound too */
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	DEVICE_SAW(saw);
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off, raw, &v, 4));
	EXPECT_DEVICE_SAW_NOTHING(saw);
	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	DEVICE_SAW(saw);
	EXPECT_EQ(-EBUSY, tsm_cfg_write(self->v.devfd, self->v.cfg_off, raw, &v, 4));
	EXPECT_DEVICE_SAW_NOTHING(saw);
	EXPECT_STREQ("established", saw.spdm);
	tsm_disconnect_any(self->bdf);
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, raw, &v, 4));
}

/*
 * A BAR exported as a dma-buf is a host path to the MMIO (a P2P importer):
 * refused while bound, and the dma-bufs exported before are revoked (not
 * visible from user space: the export has no mmap). Unbound it works as on
 * vfio-pci (plain_vfio_pci_refuses exports there).
 */
TEST_F_TIMEOUT(tsm_vfio, dma_buf_export_refused_while_bound, 240)
{
	int early, late;

	ASSERT_EQ(0, assign(self, 1));
	early = tsm_dma_buf_export(self->v.devfd, 0, 4096);
	ASSERT_LE(0, early) TH_LOG("export unbound: %s", strerror(-early));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	EXPECT_EQ(-EBUSY, tsm_dma_buf_export(self->v.devfd, 0, 4096));
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	late = tsm_dma_buf_export(self->v.devfd, 0, 4096);
	EXPECT_LE(0, late);
	if (late >= 0)
		close(late);
	close(early);
}

struct race {
	int devfd;
	int iommufd;
	uint32_t vdevice_id;
	int which;
	int stop;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < 40 && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		switch (r->which) {
		case 0:
			tsm_vfio_bind(r->devfd, r->vdevice_id);
			break;
		case 1:
			tsm_vfio_unbind(r->devfd);
			break;
		case 2:
			ioctl(r->devfd, VFIO_DEVICE_RESET);
			break;
		default:
			tsm_iommufd_op(r->iommufd, i & 1 ?
				       IOMMU_VDEVICE_TSM_UNBIND :
				       IOMMU_VDEVICE_TSM_BIND, r->vdevice_id);
			break;
		}
	}
	return NULL;
}

/* Bind, unbind, reset and the iommufd op race, then close: no harm. */
TEST_F_TIMEOUT(tsm_vfio, concurrent_bind_unbind_reset_close, 400)
{
	struct race r[4];
	pthread_t t[4];

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ self->v.devfd, self->v.iommufd,
				      self->v.vdevice_id, i, 0 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_thread, &r[i]));
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* Whatever the outcome, the state is consistent: */
	if (bound(self) == 1) {
		EXPECT_EQ(-1, ioctl(self->v.devfd, VFIO_DEVICE_RESET));
		EXPECT_EQ(EBUSY, errno);
		EXPECT_DSM("CONFIG_LOCKED");
	} else {
		EXPECT_DSM("CONFIG_UNLOCKED");
	}
	/* Bind once more, then close with a reset thread running */
	tsm_vfio_bind(self->v.devfd, self->v.vdevice_id);
	r[2].stop = 0;
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_thread, &r[2]));
	ASSERT_EQ(0, tsm_kvm_vfio_del(self->v.kvmdev, self->v.devfd));
	close(self->v.devfd);
	self->v.devfd = -1;
	pthread_join(t[2], NULL);
	EXPECT_EQ(0, bound(self));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * Root's own config writes (setpci: the sysfs config file, /proc/bus/pci)
 * to a bound TDI are refused by the PCI core and never reach the device;
 * unbound they do.
 */
TEST_F_TIMEOUT(tsm_vfio, user_config_writes_refused_while_bound, 240)
{
	struct tsm_dsm_host saw, now;
	uint16_t cmd, v16;
	int rc;

	ASSERT_EQ(0, bind_with_memory_on(self, &cmd));
	DEVICE_SAW(saw);
	ASSERT_STREQ("CONFIG_LOCKED", saw.tdi);
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(-EBUSY, tsm_user_write_config(self->bdf, false, PCI_COMMAND, &v16, 2));
	EXPECT_EQ(-EBUSY, tsm_user_write_config(self->bdf, true, PCI_COMMAND, &v16, 2));
	/* Even one that would change nothing */
	EXPECT_EQ(-EBUSY, tsm_user_write_config(self->bdf, false, PCI_COMMAND, &cmd, 2));
	EXPECT_DEVICE_SAW_NOTHING(saw);

	ASSERT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	/* Unbound, the same writes reach the device: the control */
	DEVICE_SAW(saw);
	rc = tsm_user_write_config(self->bdf, false, PCI_COMMAND, &v16, 2);
	EXPECT_EQ(0, rc) TH_LOG("sysfs: %s", strerror(-rc));
	rc = tsm_user_write_config(self->bdf, true, PCI_COMMAND, &cmd, 2);
	EXPECT_EQ(0, rc) TH_LOG("procfs: %s", strerror(-rc));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.cfg_writes + 2, now.cfg_writes);
	EXPECT_EQ(saw.events + 1, now.events);
	EXPECT_EQ(saw.violations, now.violations);
	EXPECT_STREQ("CONFIG_UNLOCKED", now.tdi);
}

#define SEAM_DIR "/sys/module/vfio_pci_tsm/parameters/"

/* Sets a boolean test seam of vfio-pci-tsm (CONFIG_VFIO_PCI_TSM_TEST_*). */
static int seam_set(const char *param, bool on)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SEAM_DIR "%s", param);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, on ? "Y" : "N", 1);
	close(fd);
	return n == 1 ? 0 : -EIO;
}

/* CONFIG_VFIO_PCI_TSM_TEST_PASS_WRITES: refused config writes reach the device. */
static int pass_writes(bool on)
{
	return seam_set("test_pass_writes", on);
}

/*
 * A config write of @len bytes from @val at @pos through the vfio region,
 * let through by test_pass_writes (on for this write only). Return: the
 * write's 0 or -errno, or the seam's -errno.
 */
static int write_let_through(struct _test_data_tsm_vfio *self, int pos,
			     const void *val, int len)
{
	int rc = pass_writes(true);

	if (rc)
		return rc;
	rc = tsm_cfg_write(self->v.devfd, self->v.cfg_off, pos, val, len);
	if (pass_writes(false) && !rc)
		rc = -EIO;
	return rc;
}

/*
 * The control of the config half of every EXPECT_DEVICE_SAW_NOTHING (the
 * MMIO half's is the next test): with the refusal switched off (a test
 * kernel's seam), a BME clear and a change of a locked Device Control field
 * on the locked TDI, and a DOE abort under the established session, do reach
 * the device, which reports each as a violation (TDI in ERROR, session
 * dropped). So the refusal tests' "saw nothing" can fail. A test kernel
 * without the seam fails here.
 */
TEST_F_TIMEOUT(tsm_vfio, refused_writes_reach_the_device_when_let_through, 240)
{
	int doe = tsm_find_ext_cap(self->bdf, PCI_EXT_CAP_ID_DOE);
	int pcie = tsm_find_cap(self->bdf, PCI_CAP_ID_EXP);
	struct tsm_dsm_host saw, now;
	uint32_t abort_doe = PCI_DOE_CTRL_ABORT;
	uint16_t cmd, v16, devctl;

	ASSERT_LT(0, doe);
	ASSERT_LT(0, pcie);
	ASSERT_EQ(0, bind_with_memory_on(self, &cmd));
	DEVICE_SAW(saw);
	ASSERT_STREQ("CONFIG_LOCKED", saw.tdi);

	/* A BME clear on the locked TDI */
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(0, write_let_through(self, PCI_COMMAND, &v16, 2));
	DEVICE_SAW(now);
	EXPECT_WRITE_VIOLATION(saw, now, "bus-master-disabled", PCI_COMMAND);
	EXPECT_STREQ("ERROR", now.tdi);
	/* Unbind still ends it: STOP is legal in ERROR */
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");

	/* A locked Device Control field (Relaxed Ordering) changed, bound again */
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	DEVICE_SAW(saw);
	ASSERT_STREQ("CONFIG_LOCKED", saw.tdi);
	ASSERT_EQ(0, tsm_cfg_read(self->v.devfd, self->v.cfg_off, pcie + PCI_EXP_DEVCTL,
				  &devctl, 2));
	v16 = devctl ^ PCI_EXP_DEVCTL_RELAX_EN;
	EXPECT_EQ(0, write_let_through(self, pcie + PCI_EXP_DEVCTL, &v16, 2));
	DEVICE_SAW(now);
	EXPECT_WRITE_VIOLATION(saw, now, "locked-config-change", pcie + PCI_EXP_DEVCTL);
	EXPECT_STREQ("ERROR", now.tdi);
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	/* Unlocked, put back: seen, no violation */
	saw = now;
	EXPECT_EQ(0, tsm_cfg_write(self->v.devfd, self->v.cfg_off, pcie + PCI_EXP_DEVCTL,
				   &devctl, 2));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.events + 1, now.events);
	EXPECT_EQ(saw.violations, now.violations);

	/* A DOE abort under the established session */
	DEVICE_SAW(saw);
	ASSERT_STREQ("established", saw.spdm);
	EXPECT_EQ(0, write_let_through(self, doe + PCI_DOE_CTRL, &abort_doe, 4));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.violations + 1, now.violations);
	EXPECT_STREQ("none", now.spdm);
	EXPECT_EQ(0, strncmp(now.last_violation, "doe-abort@", 10))
		TH_LOG("last violation: %s", now.last_violation);
	/* The teardown disconnects the device whose session is gone */
}

/* The same option's test_pass_mmio: refused BAR accesses reach the device. */
static int pass_mmio(bool on)
{
	return seam_set("test_pass_mmio", on);
}

/*
 * The control of the MMIO half of every EXPECT_DEVICE_SAW_NOTHING: with the
 * BAR refusal switched off (the seam), a read and a write of the bound
 * device's BAR0 reach it, and it counts each as a violation. tsm-dsm runs
 * with --mmio-violation reject (its default): the device refuses them and the
 * TDI stays CONFIG_LOCKED. A test kernel without the seam fails here.
 */
TEST_F_TIMEOUT(tsm_vfio, refused_mmio_reaches_the_device_when_let_through, 240)
{
	struct vfio_region_info bar0;
	struct tsm_dsm_host saw, now;
	uint16_t cmd;
	int rd, wr;

	ASSERT_EQ(0, bind_with_memory_on(self, &cmd));
	ASSERT_EQ(0, tsm_region_info(self->v.devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	DEVICE_SAW(saw);
	ASSERT_STREQ("CONFIG_LOCKED", saw.tdi);

	ASSERT_EQ(0, pass_mmio(true));
	/* CAP, then INTMS (0xc), whose 0 sets no interrupt mask bit */
	rd = tsm_region_rw(self->v.devfd, bar0.offset, 0);
	wr = tsm_region_rw(self->v.devfd, bar0.offset + 0xc, 1);
	EXPECT_EQ(0, pass_mmio(false));
	EXPECT_EQ(0, rd);
	EXPECT_EQ(0, wr);
	DEVICE_SAW(now);
	EXPECT_EQ(saw.mmio + 2, now.mmio);
	EXPECT_EQ(saw.cfg_writes, now.cfg_writes);
	EXPECT_EQ(saw.violations + 2, now.violations);
	EXPECT_STREQ("mmio-write@bar0+0xc", now.last_violation);
	EXPECT_STREQ("CONFIG_LOCKED", now.tdi);
	EXPECT_EQ(1, bound(self));

	/* With the seam off again, refused and unseen */
	saw = now;
	EXPECT_EQ(-EBUSY, tsm_region_rw(self->v.devfd, bar0.offset, 0));
	EXPECT_DEVICE_SAW_NOTHING(saw);
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * The control of the DOE half of doe_mailbox_writes_refused: let through,
 * a mailbox write that is part of no exchange (an acknowledgement of a
 * response dword with none to read) reaches the device, which loses the
 * session it carried, a violation. The abort that puts the mailbox back in
 * step is then only seen: no session is left to lose.
 */
TEST_F_TIMEOUT(tsm_vfio, stray_mailbox_write_reaches_the_device_when_let_through, 240)
{
	int doe = tsm_find_ext_cap(self->bdf, PCI_EXT_CAP_ID_DOE);
	uint32_t ack = 0, abort_doe = PCI_DOE_CTRL_ABORT;
	struct tsm_dsm_host saw, now;

	ASSERT_LT(0, doe);
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	DEVICE_SAW(saw);
	ASSERT_STREQ("established", saw.spdm);

	EXPECT_EQ(0, write_let_through(self, doe + PCI_DOE_READ, &ack, 4));
	DEVICE_SAW(now);
	EXPECT_WRITE_VIOLATION(saw, now, "doe-read-nothing-to-read", doe + PCI_DOE_READ);
	EXPECT_STREQ("none", now.spdm);

	saw = now;
	EXPECT_EQ(0, write_let_through(self, doe + PCI_DOE_CTRL, &abort_doe, 4));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.events + 1, now.events);
	EXPECT_EQ(saw.violations, now.violations);
	/* The teardown disconnects the device whose session is gone */
}

/* The same option's test_pass_resets: a refused hot reset goes through. */
static int pass_resets(bool on)
{
	return seam_set("test_pass_resets", on);
}

/*
 * The control of the hot reset refusals (connected here, bound in
 * tsm_expect_locked()): let through, the secondary bus reset reaches the
 * device as a conventional reset, which costs it its session and IDE keys, a
 * violation. It happens whatever the ioctl then returns (ENOTTY on x86_64,
 * where the kernel's wait for the device after the reset fails).
 */
TEST_F_TIMEOUT(tsm_vfio, hot_reset_reaches_the_device_when_let_through, 240)
{
	struct vfio_pci_hot_reset hr = { .argsz = sizeof(hr) };
	struct tsm_dsm_host saw, now;
	int rc;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	DEVICE_SAW(saw);
	ASSERT_STREQ("established", saw.spdm);
	rc = ioctl(self->v.devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr) ? errno : 0;
	EXPECT_EQ(EBUSY, rc);
	EXPECT_DEVICE_SAW_NOTHING(saw);

	ASSERT_EQ(0, pass_resets(true));
	rc = ioctl(self->v.devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr) ? errno : 0;
	EXPECT_EQ(0, pass_resets(false));
	EXPECT_EQ(HOT_RESET_UNBOUND, rc) TH_LOG("hot reset: %s", strerror(rc));
	DEVICE_SAW(now);
	EXPECT_EQ(saw.violations + 1, now.violations);
	EXPECT_STREQ("conventional-reset@0x3e", now.last_violation);
	EXPECT_STREQ("none", now.spdm);
	EXPECT_STREQ("CONFIG_UNLOCKED", now.tdi);
	/* The teardown disconnects the device whose session is gone */
}

/* A call through the first VMM's iommufd, held by the seam in flight. */
struct held_call {
	pthread_t t;
	int iommufd;
	uint32_t vdevice_id;
	uint32_t type;		/* IOMMU_VDEVICE_TSM_BIND/UNBIND; 0: TSM_REQ */
	int rc;
	uint64_t tsm_code;
};

static void *held_call_thread(void *arg)
{
	struct held_call *c = arg;
	uint8_t resp[64];
	struct up_tsm_req q = up_state_req(c->vdevice_id, resp, sizeof(resp));

	if (c->type) {
		c->rc = tsm_iommufd_op(c->iommufd, c->type, c->vdevice_id);
	} else {
		c->rc = up_req(c->iommufd, &q);
		c->tsm_code = q.tsm_code;
	}
	return NULL;
}

/* test_ops_held (CONFIG_VFIO_PCI_TSM_TEST_HOLD_OPS) reaches @n within 10 s: 0. */
static int wait_ops_held(int n)
{
	char buf[16];
	int i, fd;

	for (i = 0; i < 1000; i++) {
		fd = open(SEAM_DIR "test_ops_held", O_RDONLY);
		if (fd < 0)
			return -errno;
		memset(buf, 0, sizeof(buf));
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
		if (atoi(buf) == n)
			return 0;
		tsm_msleep(10);
	}
	return -ETIMEDOUT;
}

/*
 * Calls of IOMMU_VDEVICE_TSM_OP and IOMMU_VDEVICE_TSM_REQ in flight (held by
 * the test kernel's seam after iommufd found the device through the first
 * VMM's vDEVICE) while that VMM closes the device and the next owner opens
 * it through its own iommufd: each fails with the documented EINVAL, and the
 * next owner's TDI is neither bound (round 1: the held BIND, the next owner
 * unbound) nor unbound nor asked about (round 2: the held UNBIND and
 * TSM_REQ, the next owner bound). The device saw nothing of them.
 */
TEST_F_TIMEOUT(tsm_vfio, stale_ops_in_flight_after_reopen, 300)
{
	static const uint32_t rounds[2][2] = {
		{ IOMMU_VDEVICE_TSM_BIND },
		{ IOMMU_VDEVICE_TSM_UNBIND, 0 },
	};
	struct held_call c[2];
	struct tsm_dsm_host before;
	struct tsm_vmm first, next;
	int r, i, n, rc, old_iommufd;

	NEEDS_VIOMMU();
	ASSERT_EQ(0, connect_fw(self));
	for (r = 0; r < 2; r++) {
		n = r ? 2 : 1;
		tsm_vmm_init(&first);
		tsm_vmm_init(&next);
		first.vm = next.vm = self->v.vm;
		ASSERT_EQ(0, tsm_vmm_assign(&first, self->bdf, 1, VIRT_ID));
		if (r)
			ASSERT_EQ(0, tsm_vfio_bind(first.devfd, first.vdevice_id));

		ASSERT_EQ(0, seam_set("test_hold_ops", true));
		for (i = 0; i < n; i++) {
			c[i] = (struct held_call) {
				.iommufd = first.iommufd,
				.vdevice_id = first.vdevice_id,
				.type = rounds[r][i],
			};
			ASSERT_EQ(0, pthread_create(&c[i].t, NULL,
						    held_call_thread, &c[i]));
		}
		rc = wait_ops_held(n);
		if (rc)
			seam_set("test_hold_ops", false);
		ASSERT_EQ(0, rc) TH_LOG("round %d: the calls were not held", r);

		/* The first VMM closes the device, keeping its iommufd */
		old_iommufd = first.iommufd;
		first.iommufd = -1;
		tsm_vmm_release(&first);
		EXPECT_EQ(0, bound(self));
		EXPECT_DSM("CONFIG_UNLOCKED");
		ASSERT_EQ(0, tsm_vmm_assign(&next, self->bdf, 1, VIRT_ID));
		if (r) {
			ASSERT_EQ(0, tsm_vfio_bind(next.devfd, next.vdevice_id));
			EXPECT_DSM("CONFIG_LOCKED");
		}
		DEVICE_SAW(before);
		ASSERT_EQ(0, wait_ops_held(n)) TH_LOG("a held call ended early");

		ASSERT_EQ(0, seam_set("test_hold_ops", false));
		for (i = 0; i < n; i++) {
			pthread_join(c[i].t, NULL);
			EXPECT_EQ(-EINVAL, c[i].rc)
				TH_LOG("round %d call %d: %s", r, i,
				       strerror(-c[i].rc));
			if (!c[i].type)
				EXPECT_EQ(0ull, c[i].tsm_code);
		}
		EXPECT_EQ(r, bound(self));
		EXPECT_DEVICE_SAW_NOTHING(before);
		if (r)
			EXPECT_EQ(0, tsm_vfio_unbind(next.devfd));
		EXPECT_DSM("CONFIG_UNLOCKED");
		tsm_vmm_release(&next);
		close(old_iommufd);
	}
}

/*
 * Errnos of the firmware through both guest-request ioctls: a request that
 * a signal interrupts while the firmware does not answer is EINTR (the TDI
 * untouched, and the next request served once the firmware answers again);
 * with the firmware dead, ENODEV, the TDI still bound until the unbind.
 */
TEST_F_TIMEOUT(tsm_vfio, guest_req_firmware_errnos, 240)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	uint8_t resp[64];
	struct up_tsm_req q;
	uint32_t len;
	uint64_t code;
	int i;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, tsm_vfio_bind(self->v.devfd, self->v.vdevice_id));
	q = up_state_req(self->v.vdevice_id, resp, sizeof(resp));

	/* A firmware that does not answer, a signal (no SA_RESTART) */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, &old));
	for (i = 0; i < (TSM_HAVE_VIOMMU ? 2 : 1); i++) {
		ASSERT_EQ(0, kill(self->fw, SIGSTOP));
		alarm(1);
		len = sizeof(resp);
		code = ~0ull;
		q.tsm_code = ~0ull;
		if (!i) {
			EXPECT_EQ(-EINTR, tsm_guest_req(self->v.devfd,
							TSM_FW_GUEST_GET_STATE,
							resp, &len, &code));
		} else {
			EXPECT_EQ(-EINTR, up_req(self->v.iommufd, &q));
			code = q.tsm_code;
		}
		alarm(0);
		EXPECT_EQ(0ull, code);
		ASSERT_EQ(0, kill(self->fw, SIGCONT));
		/* The abandoned request's messages are stale to the kernel */
		tsm_msleep(500);
		len = sizeof(resp);
		EXPECT_EQ(0, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_STATE,
					   resp, &len, &code));
		EXPECT_EQ((uint64_t)TSM_FW_TDI_CONFIG_LOCKED, code);
		EXPECT_EQ(1, bound(self));
		EXPECT_DSM("CONFIG_LOCKED");
	}
	sigaction(SIGALRM, &old, NULL);

	/* No firmware */
	ASSERT_EQ(0, kill(self->fw, SIGKILL));
	ASSERT_EQ(self->fw, waitpid(self->fw, NULL, 0));
	self->fw = 0;
	len = sizeof(resp);
	code = ~0ull;
	EXPECT_EQ(-ENODEV, tsm_guest_req(self->v.devfd, TSM_FW_GUEST_GET_STATE,
					 resp, &len, &code));
	EXPECT_EQ(0ull, code);
	if (TSM_HAVE_VIOMMU) {
		q.tsm_code = ~0ull;
		EXPECT_EQ(-ENODEV, up_req(self->v.iommufd, &q));
		EXPECT_EQ(0ull, q.tsm_code);
	}
	EXPECT_EQ(1, bound(self));
	EXPECT_DSM("CONFIG_LOCKED");
	/*
	 * The kernel forgets the TDI it cannot STOP (the device keeps it locked,
	 * and the close's Memory Space clear sends it to ERROR); a new firmware
	 * connects the device again.
	 */
	EXPECT_EQ(0, tsm_vfio_unbind(self->v.devfd));
	EXPECT_EQ(0, bound(self));
	tsm_vmm_release(&self->v);
	EXPECT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	ASSERT_EQ(0, connect_fw(self));
}

TEST_HARNESS_MAIN
