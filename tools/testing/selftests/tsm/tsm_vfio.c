// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEE-IO device assignment through the vfio-pci-tsm variant driver and the
 * iommufd vDEVICE TSM layer: a VMM's whole sequence (driver_override to
 * vfio-pci-tsm, KVM_DEV_VFIO_FILE_ADD, VFIO_DEVICE_BIND_IOMMUFD, nest parent,
 * vIOMMU, vDEVICE, then VFIO_DEVICE_TSM_BIND or IOMMU_VDEVICE_TSM_OP), every
 * errno of the new ioctls, what is refused while bound and allowed after
 * unbind, and the ways a binding ends (close, vDEVICE destroy, disconnect).
 *
 * The platform TSM is the emulated one (samples/tsm, tsm_emu.ko) with the
 * software firmware tsm-fw; each test that connects starts its own tsm-fw.
 * Needs the arm64 guest (the only one with an iommufd vIOMMU under QEMU).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/kvm.h>
#include <linux/pci_regs.h>

#include "../kselftest_harness.h"
#include "tsm_utils.h"

#define VFIO_TSM_KO	"kernel/drivers/vfio/pci/tsm/vfio_pci_tsm.ko"
#define VFIO_TSM_DRV	"vfio-pci-tsm"
#define TSM_FW_LOG	"/tmp/tsm-fw-vfio.log"

/* tsm_fw guest ops (the emulated TSM's request codes) and TDISP states */
#define GUEST_GET_REPORT	1
#define GUEST_START		2
#define GUEST_GET_STATE		3
#define TDI_CONFIG_LOCKED	1ULL
#define TDI_RUN			2ULL

#define VIRT_ID 0x100

static int insmod_once(const char *check, const char *ko)
{
	struct utsname u;
	char cmd[512];

	if (check && !access(check, F_OK))
		return 0;
	if (uname(&u))
		return -errno;
	snprintf(cmd, sizeof(cmd),
		 "grep -q '^%s ' /proc/modules || insmod /lib/modules/%s/%s",
		 strstr(ko, "tsm_emu") ? "tsm_emu" : "vfio_pci_tsm", u.release,
		 ko);
	return system(cmd) ? -ENOENT : 0;
}

static void disconnect_any(const char *bdf)
{
	char buf[64];

	if (!tsm_attr_read(bdf, "tsm/connect", buf, sizeof(buf)) && buf[0])
		tsm_attr_write(bdf, "tsm/disconnect", buf);
}

static int vm_create(void)
{
	int kvm = open("/dev/kvm", O_RDWR), vm;

	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		vm = -errno;
	close(kvm);
	return vm;
}

/*
 * KVM's VFIO device (one per VM, created on first use into *@kvmdev) learns
 * of the vfio cdev: that gives the device its kvm when it binds to iommufd.
 */
static int kvm_vfio_add(int vm, int *kvmdev, int devfd)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = KVM_DEV_VFIO_FILE_ADD,
		.addr = (uint64_t)(uintptr_t)&devfd,
	};

	if (*kvmdev < 0) {
		if (ioctl(vm, KVM_CREATE_DEVICE, &cd))
			return -errno;
		*kvmdev = cd.fd;
	}
	if (ioctl(*kvmdev, KVM_SET_DEVICE_ATTR, &attr))
		return -errno;
	return 0;
}

/* The VMM stops assigning the device: KVM drops its file reference. */
static int kvm_vfio_del(int kvmdev, int devfd)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = KVM_DEV_VFIO_FILE_DEL,
		.addr = (uint64_t)(uintptr_t)&devfd,
	};

	return ioctl(kvmdev, KVM_SET_DEVICE_ATTR, &attr) ? -errno : 0;
}

static int vfio_tsm_bind(int devfd, uint32_t vdevice_id)
{
	struct vfio_device_tsm_bind b = {
		.argsz = sizeof(b), .vdevice_id = vdevice_id,
	};

	return ioctl(devfd, VFIO_DEVICE_TSM_BIND, &b) ? -errno : 0;
}

static int vfio_tsm_unbind(int devfd)
{
	struct vfio_device_tsm_unbind u = { .argsz = sizeof(u) };

	return ioctl(devfd, VFIO_DEVICE_TSM_UNBIND, &u) ? -errno : 0;
}

static int iommufd_tsm_op(int iommufd, uint32_t op, uint32_t vdevice_id)
{
	struct iommu_vdevice_tsm_op o = {
		.size = sizeof(o), .op = op, .vdevice_id = vdevice_id,
	};

	return ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &o) ? -errno : 0;
}

static int guest_req(int devfd, uint32_t type, uint32_t op, void *resp,
		     uint32_t *resp_len, uint64_t *code)
{
	struct vfio_device_tsm_guest_req r = {
		.argsz = sizeof(r), .type = type, .op = op,
		.resp_uaddr = (uint64_t)(uintptr_t)resp, .resp_len = *resp_len,
	};
	int rc = ioctl(devfd, VFIO_DEVICE_TSM_GUEST_REQ, &r) ? -errno : 0;

	*resp_len = r.resp_len;
	*code = r.tsm_code;
	return rc;
}

static int destroy_obj(int iommufd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &d) ? -errno : 0;
}

static int region_info(int devfd, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

/* Config space accesses through the vfio config region. */
static int cfg_write(int devfd, uint64_t cfg_off, uint32_t pos, const void *v,
		     size_t len)
{
	ssize_t n = pwrite(devfd, v, len, cfg_off + pos);

	return n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
}

static int cfg_read(int devfd, uint64_t cfg_off, uint32_t pos, void *v,
		    size_t len)
{
	ssize_t n = pread(devfd, v, len, cfg_off + pos);

	return n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
}

/* Offset of capability @id in the device's (physical) config space. */
static int find_cap(const char *bdf, int id)
{
	unsigned char cfg[256];
	char path[512];
	int fd, pos, hops = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (pread(fd, cfg, sizeof(cfg), 0) != sizeof(cfg)) {
		close(fd);
		return -EIO;
	}
	close(fd);
	pos = cfg[PCI_CAPABILITY_LIST] & ~3;
	while (pos && hops++ < 48) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & ~3;
	}
	return -ENOENT;
}

FIXTURE(tsm_vfio) {
	char bdf[32];
	char tsm[32];
	pid_t fw;
	int vm;
	int kvmdev;
	int devfd;
	int iommufd;
	uint32_t dev_id;
	uint32_t hwpt_id;
	uint32_t viommu_id;
	uint32_t vdevice_id;
	uint64_t cfg_off;
};

/* Opens the device as a VMM would; @kvm: with KVM_DEV_VFIO_FILE_ADD first. */
static int assign(FIXTURE_DATA(tsm_vfio) *self, int kvm)
{
	struct vfio_region_info ri;
	int ret;

	self->devfd = tsm_open_vfio_cdev(self->bdf);
	if (self->devfd < 0)
		return self->devfd;
	if (kvm) {
		ret = kvm_vfio_add(self->vm, &self->kvmdev, self->devfd);
		if (ret)
			return ret;
	}
	self->iommufd = open("/dev/iommu", O_RDWR);
	if (self->iommufd < 0)
		return -errno;
	ret = tsm_setup_nest_parent(self->devfd, self->iommufd, &self->dev_id,
				    &self->hwpt_id);
	if (!ret)
		ret = tsm_viommu_alloc(self->iommufd,
				       IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
				       self->dev_id, self->hwpt_id,
				       &self->viommu_id);
	if (!ret)
		ret = tsm_vdevice_alloc(self->iommufd, self->viommu_id,
					self->dev_id, VIRT_ID,
					&self->vdevice_id);
	if (!ret)
		ret = region_info(self->devfd, VFIO_PCI_CONFIG_REGION_INDEX,
				  &ri);
	if (!ret)
		self->cfg_off = ri.offset;
	return ret;
}

static int connect_fw(FIXTURE_DATA(tsm_vfio) *self)
{
	int ret = -ENODEV;

	self->fw = tsm_fw_start(TSM_FW_LOG);
	if (self->fw <= 0)
		return -ECHILD;
	for (int i = 0; i < 200 && ret == -ENODEV; i++) {
		ret = tsm_attr_write(self->bdf, "tsm/connect", self->tsm);
		if (ret == -ENODEV)
			tsm_msleep(100);
	}
	return ret;
}

static int bound(FIXTURE_DATA(tsm_vfio) *self)
{
	char buf[64];

	if (tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)))
		return -1;
	return buf[0] != '\0';
}

FIXTURE_SETUP(tsm_vfio)
{
	self->bdf[0] = '\0';
	self->fw = 0;
	self->vm = -1;
	self->devfd = -1;
	self->iommufd = -1;
	self->kvmdev = -1;
#if !defined(__aarch64__)
	SKIP(return, "needs an iommufd vIOMMU (arm64 guest only)");
#endif
	ASSERT_EQ(0, insmod_once(TSM_FW_DEV, TSM_EMU_KO));
	ASSERT_EQ(0, insmod_once(NULL, VFIO_TSM_KO));
	ASSERT_EQ(0, tsm_find_test_device(self->bdf, sizeof(self->bdf)));
	ASSERT_EQ(0, tsm_find_tsm(self->tsm, sizeof(self->tsm)));
	disconnect_any(self->bdf);
	ASSERT_EQ(0, tsm_bind_driver(self->bdf, VFIO_TSM_DRV));
	self->vm = vm_create();
	ASSERT_LE(0, self->vm);
}

FIXTURE_TEARDOWN(tsm_vfio)
{
	if (self->devfd >= 0)
		close(self->devfd);
	if (self->kvmdev >= 0)
		close(self->kvmdev);
	if (self->iommufd >= 0)
		close(self->iommufd);
	if (self->vm >= 0)
		close(self->vm);
	if (self->bdf[0])
		disconnect_any(self->bdf);
	tsm_fw_stop(self->fw, SIGTERM);
}

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
	uint32_t len = 64;
	uint64_t code;
	char resp[64];

	ASSERT_EQ(0, assign(self, 1));
	b.vdevice_id = self->vdevice_id;
	big.b.vdevice_id = self->vdevice_id;

	/* VFIO_DEVICE_TSM_BIND */
	b.argsz = sizeof(b) - 1;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_BIND, &b));
	EXPECT_EQ(EINVAL, errno);
	b.argsz = sizeof(b);
	b.flags = 1;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_BIND, &b));
	EXPECT_EQ(EINVAL, errno);
	b.flags = 0;
	b.pad = 1;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_BIND, &b));
	EXPECT_EQ(EINVAL, errno);
	b.pad = 0;
	big.more[1] = 1;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_BIND, &big));
	EXPECT_EQ(EINVAL, errno);
	/* A longer zero-filled argument is fine (extensible): not connected */
	big.more[1] = 0;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_BIND, &big));
	EXPECT_EQ(ENXIO, errno);
	/* No such vDEVICE; an object that is not a vDEVICE */
	EXPECT_EQ(-ENOENT, vfio_tsm_bind(self->devfd, 0xdead));
	EXPECT_EQ(-ENOENT, vfio_tsm_bind(self->devfd, self->viommu_id));
	/* Bind without connect */
	EXPECT_EQ(-ENXIO, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(0, bound(self));

	/* VFIO_DEVICE_TSM_UNBIND */
	u.argsz = 4;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_UNBIND, &u));
	EXPECT_EQ(EINVAL, errno);
	u.argsz = sizeof(u);
	u.flags = 1;
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_TSM_UNBIND, &u));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENXIO, vfio_tsm_unbind(self->devfd));

	/* IOMMU_VDEVICE_TSM_OP */
	o.vdevice_id = self->vdevice_id;
	o.size = 8;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EINVAL, errno);
	o.size = sizeof(o);
	o.flags = 1;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EINVAL, errno);
	o.flags = 0;
	o.op = 7;
	EXPECT_EQ(-1, ioctl(self->iommufd, IOMMU_VDEVICE_TSM_OP, &o));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENOENT, iommufd_tsm_op(self->iommufd,
					  IOMMU_VDEVICE_TSM_BIND, 0xdead));
	EXPECT_EQ(-ENXIO, iommufd_tsm_op(self->iommufd, IOMMU_VDEVICE_TSM_BIND,
					 self->vdevice_id));
	EXPECT_EQ(-ENXIO, iommufd_tsm_op(self->iommufd,
					 IOMMU_VDEVICE_TSM_UNBIND,
					 self->vdevice_id));

	/* VFIO_DEVICE_TSM_GUEST_REQ: bad fields, then nothing bound */
	EXPECT_EQ(-EINVAL, guest_req(self->devfd, 5, GUEST_GET_STATE, resp,
				     &len, &code));
	len = 64;
	EXPECT_EQ(-ENXIO, guest_req(self->devfd, VFIO_TSM_REQ_INFO,
				    GUEST_GET_STATE, resp, &len, &code));
}

/* Without KVM_DEV_VFIO_FILE_ADD before BIND_IOMMUFD the device has no kvm. */
TEST_F(tsm_vfio, bind_without_kvm)
{
	ASSERT_EQ(0, assign(self, 0));
	EXPECT_EQ(-ENOTCONN, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(-ENOTCONN, iommufd_tsm_op(self->iommufd,
					    IOMMU_VDEVICE_TSM_BIND,
					    self->vdevice_id));
	EXPECT_EQ(0, bound(self));
}

/* The plain vfio-pci driver offers no TSM bind. */
TEST_F(tsm_vfio, plain_vfio_pci_refuses)
{
	ASSERT_EQ(0, tsm_bind_driver(self->bdf, "vfio-pci"));
	ASSERT_EQ(0, assign(self, 1));
	EXPECT_EQ(-ENOTTY, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(-EOPNOTSUPP, iommufd_tsm_op(self->iommufd,
					      IOMMU_VDEVICE_TSM_BIND,
					      self->vdevice_id));
	/* The fixture rebinds vfio-pci-tsm once KVM let go of the file */
}

/*
 * The lifecycle through the VFIO cdev: bind, everything that would break the
 * TDI refused while bound, guest requests, unbind, then allowed again.
 */
TEST_F_TIMEOUT(tsm_vfio, vfio_bind_refusals_unbind, 240)
{
	struct vfio_region_info bar0;
	int pcie = find_cap(self->bdf, PCI_CAP_ID_EXP);
	int pm = find_cap(self->bdf, PCI_CAP_ID_PM);
	struct vfio_device_feature lp = {
		.argsz = sizeof(lp),
		.flags = VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
	};
	struct vfio_pci_hot_reset hr = { .argsz = sizeof(hr) };
	uint16_t cmd, v16;
	uint32_t len;
	uint64_t code;
	char resp[4096];
	int rc, hot_reset_ok;
	void *map;

	ASSERT_LT(0, pcie);
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, region_info(self->devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	/* Can this topology hot reset the device at all? (unbound: allowed) */
	hot_reset_ok = !ioctl(self->devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr);
	TH_LOG("hot reset before bind: %s", hot_reset_ok ? "done" : strerror(errno));
	/* Memory and bus master on, as a guest driver would have them */
	ASSERT_EQ(0, cfg_read(self->devfd, self->cfg_off, PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(0, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND, &cmd, 2));

	ASSERT_EQ(0, connect_fw(self));
	rc = vfio_tsm_bind(self->devfd, self->vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	ASSERT_EQ(1, bound(self));
	/* Double bind, through either uAPI */
	EXPECT_EQ(-EBUSY, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(-EBUSY, iommufd_tsm_op(self->iommufd, IOMMU_VDEVICE_TSM_BIND,
					 self->vdevice_id));

	/* Guest requests reach the TSM: locked, report, START -> RUN */
	len = sizeof(resp);
	EXPECT_EQ(0, guest_req(self->devfd, VFIO_TSM_REQ_INFO, GUEST_GET_STATE,
			       resp, &len, &code));
	EXPECT_EQ(TDI_CONFIG_LOCKED, code);
	len = sizeof(resp);
	EXPECT_EQ(0, guest_req(self->devfd, VFIO_TSM_REQ_INFO, GUEST_GET_REPORT,
			       resp, &len, &code));
	EXPECT_LT(16U, len);
	len = sizeof(resp);
	EXPECT_EQ(-EINVAL, guest_req(self->devfd, VFIO_TSM_REQ_INFO,
				     GUEST_START, resp, &len, &code));
	len = sizeof(resp);
	EXPECT_EQ(0, guest_req(self->devfd, VFIO_TSM_REQ_STATE_CHANGE,
			       GUEST_START, resp, &len, &code));
	len = sizeof(resp);
	EXPECT_EQ(0, guest_req(self->devfd, VFIO_TSM_REQ_INFO, GUEST_GET_STATE,
			       resp, &len, &code));
	EXPECT_EQ(TDI_RUN, code);

	/* Clearing MSE or BME: refused; a write keeping them: allowed */
	v16 = cmd & ~PCI_COMMAND_MEMORY;
	EXPECT_EQ(-EBUSY, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND,
				    &v16, 2));
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(-EBUSY, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND,
				    &v16, 2));
	v16 = cmd & 0xff & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(-EBUSY, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND,
				    &v16, 1));
	EXPECT_EQ(0, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND, &cmd, 2));
	/* FLR through Device Control */
	v16 = PCI_EXP_DEVCTL_BCR_FLR;
	EXPECT_EQ(-EBUSY, cfg_write(self->devfd, self->cfg_off,
				    pcie + PCI_EXP_DEVCTL, &v16, 2));
	/* D3hot through PMCSR */
	if (pm > 0) {
		v16 = PCI_PM_CTRL_STATE_MASK;	/* D3hot */
		EXPECT_EQ(-EBUSY, cfg_write(self->devfd, self->cfg_off,
					    pm + PCI_PM_CTRL, &v16, 2));
	}
	/* Resets, low power, mmap of a BAR */
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EBUSY, errno);
	if (hot_reset_ok) {
		EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr));
		EXPECT_EQ(EBUSY, errno);
	}
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_FEATURE, &lp));
	EXPECT_EQ(EBUSY, errno);
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->devfd,
		   bar0.offset);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EBUSY, errno);
	/* Nothing of that unbound the TDI */
	EXPECT_EQ(1, bound(self));

	ASSERT_EQ(0, vfio_tsm_unbind(self->devfd));
	EXPECT_EQ(0, bound(self));
	EXPECT_EQ(-ENXIO, vfio_tsm_unbind(self->devfd));

	/* Allowed again */
	if (bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			   self->devfd, bar0.offset);
		EXPECT_NE(MAP_FAILED, map);
		if (map != MAP_FAILED)
			munmap(map, 4096);
	}
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(0, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND, &v16, 2));
	rc = ioctl(self->devfd, VFIO_DEVICE_RESET) ? errno : 0;
	EXPECT_NE(EBUSY, rc);
	if (hot_reset_ok) {
		rc = ioctl(self->devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr) ? errno : 0;
		EXPECT_EQ(0, rc);
	}
}

/* The lifecycle through iommufd: IOMMU_VDEVICE_TSM_OP, same layer. */
TEST_F_TIMEOUT(tsm_vfio, iommufd_bind_unbind, 240)
{
	int rc;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	rc = iommufd_tsm_op(self->iommufd, IOMMU_VDEVICE_TSM_BIND,
			    self->vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	EXPECT_EQ(1, bound(self));
	EXPECT_EQ(-EBUSY, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, iommufd_tsm_op(self->iommufd, IOMMU_VDEVICE_TSM_UNBIND,
				    self->vdevice_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_EQ(-ENXIO, iommufd_tsm_op(self->iommufd,
					 IOMMU_VDEVICE_TSM_UNBIND,
					 self->vdevice_id));
	/* Bound through iommufd, unbound through VFIO: one layer */
	ASSERT_EQ(0, iommufd_tsm_op(self->iommufd, IOMMU_VDEVICE_TSM_BIND,
				    self->vdevice_id));
	EXPECT_EQ(0, vfio_tsm_unbind(self->devfd));
	EXPECT_EQ(0, bound(self));
}

/* Closing the device while bound unbinds (before it is disabled). */
TEST_F_TIMEOUT(tsm_vfio, close_while_bound, 240)
{
	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, vfio_tsm_bind(self->devfd, self->vdevice_id));
	ASSERT_EQ(1, bound(self));
	/* KVM holds a file reference: a VMM drops it before the last close */
	ASSERT_EQ(0, kvm_vfio_del(self->kvmdev, self->devfd));
	close(self->devfd);
	self->devfd = -1;
	EXPECT_EQ(0, bound(self));
	/* The device opens and binds again */
	close(self->iommufd);
	ASSERT_EQ(0, assign(self, 1));
	EXPECT_EQ(0, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(1, bound(self));
}

/* Destroying the vDEVICE while bound unbinds. */
TEST_F_TIMEOUT(tsm_vfio, vdevice_destroy_while_bound, 240)
{
	int rc;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, vfio_tsm_bind(self->devfd, self->vdevice_id));
	ASSERT_EQ(1, bound(self));
	ASSERT_EQ(0, destroy_obj(self->iommufd, self->vdevice_id));
	EXPECT_EQ(0, bound(self));
	EXPECT_EQ(-ENXIO, vfio_tsm_unbind(self->devfd));
	EXPECT_EQ(-ENOENT, vfio_tsm_bind(self->devfd, self->vdevice_id));
	rc = ioctl(self->devfd, VFIO_DEVICE_RESET) ? errno : 0;
	EXPECT_NE(EBUSY, rc);
}

/* tsm/disconnect while bound: the core unbinds; VFIO does not trust a cache. */
TEST_F_TIMEOUT(tsm_vfio, disconnect_while_bound, 240)
{
	uint16_t cmd;

	ASSERT_EQ(0, assign(self, 1));
	ASSERT_EQ(0, connect_fw(self));
	ASSERT_EQ(0, vfio_tsm_bind(self->devfd, self->vdevice_id));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	EXPECT_EQ(0, bound(self));
	EXPECT_EQ(-ENXIO, vfio_tsm_unbind(self->devfd));
	/* Nothing refused any more */
	ASSERT_EQ(0, cfg_read(self->devfd, self->cfg_off, PCI_COMMAND, &cmd, 2));
	cmd &= ~PCI_COMMAND_MASTER;
	EXPECT_EQ(0, cfg_write(self->devfd, self->cfg_off, PCI_COMMAND, &cmd, 2));
	/* Reconnect and bind again */
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	EXPECT_EQ(0, vfio_tsm_bind(self->devfd, self->vdevice_id));
	EXPECT_EQ(1, bound(self));
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
			vfio_tsm_bind(r->devfd, r->vdevice_id);
			break;
		case 1:
			vfio_tsm_unbind(r->devfd);
			break;
		case 2:
			ioctl(r->devfd, VFIO_DEVICE_RESET);
			break;
		default:
			iommufd_tsm_op(r->iommufd, i & 1 ?
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
		r[i] = (struct race){ self->devfd, self->iommufd,
				      self->vdevice_id, i, 0 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_thread, &r[i]));
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* Whatever the outcome, the state is consistent: */
	if (bound(self) == 1) {
		EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_RESET));
		EXPECT_EQ(EBUSY, errno);
	}
	/* Bind once more, then close with a reset thread running */
	vfio_tsm_bind(self->devfd, self->vdevice_id);
	r[2].stop = 0;
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_thread, &r[2]));
	ASSERT_EQ(0, kvm_vfio_del(self->kvmdev, self->devfd));
	close(self->devfd);
	self->devfd = -1;
	pthread_join(t[2], NULL);
	EXPECT_EQ(0, bound(self));
}

TEST_HARNESS_MAIN
