/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a VMM does to assign a TEE-IO device, as helpers shared by the tsm
 * selftests, the demo and the benchmark: load the modules, create a VM, hand
 * the vfio cdev to KVM, bind it to iommufd and build the nest parent, vIOMMU
 * and vDEVICE (struct tsm_vmm), then bind, unbind and forward guest requests
 * with the new ioctls, and access config space through the vfio region.
 */
#ifndef __TSM_VMM_H
#define __TSM_VMM_H

#include <sys/klog.h>
#include <sys/utsname.h>

#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/tsm_cca.h>
#include <linux/tsm_sev.h>
#include <linux/tsm_fw.h>

#include "tsm_utils.h"

#define TSM_VFIO_KO	"kernel/drivers/vfio/pci/tsm/vfio_pci_tsm.ko"
#define TSM_VFIO_DRV	"vfio-pci-tsm"

/* Loads module @ko (path under /lib/modules/$(uname -r)) unless it is loaded. */
static inline int tsm_insmod_once(const char *ko)
{
	const char *base = strrchr(ko, '/') ? strrchr(ko, '/') + 1 : ko;
	struct utsname u;
	char cmd[512];

	if (uname(&u))
		return -errno;
	snprintf(cmd, sizeof(cmd),
		 "grep -q '^%.*s ' /proc/modules || insmod /lib/modules/%s/%s",
		 (int)(strlen(base) - 3), base, u.release, ko);
	return system(cmd) ? -ENOENT : 0;
}

/* Disconnects @bdf from whichever TSM it is connected to, if any. */
static inline void tsm_disconnect_any(const char *bdf)
{
	char buf[64];

	if (!tsm_attr_read(bdf, "tsm/connect", buf, sizeof(buf)) && buf[0])
		tsm_attr_write(bdf, "tsm/disconnect", buf);
}

static inline int tsm_vm_create(void)
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
static inline int tsm_kvm_vfio_add(int vm, int *kvmdev, int devfd)
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
static inline int tsm_kvm_vfio_del(int kvmdev, int devfd)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = KVM_DEV_VFIO_FILE_DEL,
		.addr = (uint64_t)(uintptr_t)&devfd,
	};

	return ioctl(kvmdev, KVM_SET_DEVICE_ATTR, &attr) ? -errno : 0;
}

static inline int tsm_vfio_bind(int devfd, uint32_t vdevice_id)
{
	struct vfio_device_tsm_bind b = {
		.argsz = sizeof(b), .vdevice_id = vdevice_id,
	};

	return ioctl(devfd, VFIO_DEVICE_TSM_BIND, &b) ? -errno : 0;
}

static inline int tsm_vfio_unbind(int devfd)
{
	struct vfio_device_tsm_unbind u = { .argsz = sizeof(u) };

	return ioctl(devfd, VFIO_DEVICE_TSM_UNBIND, &u) ? -errno : 0;
}

/* IOMMU_VDEVICE_TSM_OP: @op is IOMMU_VDEVICE_TSM_BIND or _UNBIND. */
static inline int tsm_iommufd_op(int iommufd, uint32_t type, uint32_t vdevice_id)
{
	struct iommu_vdevice_tsm_op o = {
		.size = sizeof(o), .type = type, .vdevice_id = vdevice_id,
	};

	return ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &o) ? -errno : 0;
}

/*
 * VFIO_DEVICE_TSM_GUEST_REQ of architecture @arch (tsm_guest_req(): the
 * emulated platform, TSM_FW_GUEST_* ops): guest op @op with the payload @req
 * of @req_len bytes (tsm_guest_req_arch(): none); the
 * response in @resp (in: its size, out: its length, or with -ENOSPC the size
 * needed), the TSM's result code in @code. 0 or -errno.
 */
static inline int tsm_guest_req_payload(int devfd, uint32_t arch, uint32_t op,
					const void *req, uint32_t req_len,
					void *resp, uint32_t *resp_len,
					uint64_t *code)
{
	struct vfio_device_tsm_guest_req r = {
		.argsz = sizeof(r), .op = op,
		.tvm_arch = arch,
		.req_len = req_len, .req_uptr = (uint64_t)(uintptr_t)req,
		.resp_uptr = (uint64_t)(uintptr_t)resp, .resp_len = *resp_len,
	};
	int rc = ioctl(devfd, VFIO_DEVICE_TSM_GUEST_REQ, &r);

	*code = r.tsm_code;
	if (rc < 0) {
		if (errno == ENOSPC)
			*resp_len = r.resp_len;
		return -errno;
	}
	/* The residue: what the response left unused of the buffer */
	*resp_len -= rc;
	return 0;
}

static inline int tsm_guest_req_arch(int devfd, uint32_t arch, uint32_t op,
				     void *resp, uint32_t *resp_len,
				     uint64_t *code)
{
	return tsm_guest_req_payload(devfd, arch, op, NULL, 0, resp, resp_len,
				     code);
}

static inline int tsm_guest_req(int devfd, uint32_t op, void *resp,
				uint32_t *resp_len, uint64_t *code)
{
	return tsm_guest_req_arch(devfd, IOMMU_VDEVICE_TSM_TVM_ARCH_EMU, op,
				  resp, resp_len, code);
}

static inline int tsm_destroy_obj(int iommufd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &d) ? -errno : 0;
}

static inline int tsm_region_info(int devfd, uint32_t index,
				  struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

/* Config space accesses through the vfio config region. */
static inline int tsm_cfg_write(int devfd, uint64_t cfg_off, uint32_t pos,
				const void *v, size_t len)
{
	ssize_t n = pwrite(devfd, v, len, cfg_off + pos);

	return n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
}

static inline int tsm_cfg_read(int devfd, uint64_t cfg_off, uint32_t pos,
			       void *v, size_t len)
{
	ssize_t n = pread(devfd, v, len, cfg_off + pos);

	return n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
}

/* VFIO_DEVICE_IOEVENTFD of 4 bytes at @offset (a region offset); @fd -1 removes. */
static inline int tsm_ioeventfd(int devfd, uint64_t offset, uint64_t data, int fd)
{
	struct vfio_device_ioeventfd io = {
		.argsz = sizeof(io),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = offset,
		.data = data,
		.fd = fd,
	};

	return ioctl(devfd, VFIO_DEVICE_IOEVENTFD, &io) ? -errno : 0;
}

/*
 * VFIO_DEVICE_SET_IRQS of vector 0 of IRQ @index to eventfd @efd; @efd -1
 * disables the index (DATA_NONE, count 0).
 */
static inline int tsm_set_irq(int devfd, uint32_t index, int efd)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	memset(buf, 0, sizeof(buf));
	set->argsz = efd < 0 ? sizeof(*set) : sizeof(buf);
	set->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
		     (efd < 0 ? VFIO_IRQ_SET_DATA_NONE : VFIO_IRQ_SET_DATA_EVENTFD);
	set->index = index;
	set->count = efd < 0 ? 0 : 1;
	memcpy(set->data, &efd, sizeof(efd));
	return ioctl(devfd, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
}

/*
 * VFIO_DEVICE_FEATURE_DMA_BUF of the first @len bytes of BAR @bar: the
 * dma-buf fd, or -errno.
 */
static inline int tsm_dma_buf_export(int devfd, uint32_t bar, uint64_t len)
{
	char buf[sizeof(struct vfio_device_feature) +
		 sizeof(struct vfio_device_feature_dma_buf) +
		 sizeof(struct vfio_region_dma_range)] = { 0 };
	struct vfio_device_feature f = {
		.argsz = sizeof(buf),
		.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF,
	};
	struct vfio_device_feature_dma_buf d = {
		.region_index = bar,
		.open_flags = O_RDWR | O_CLOEXEC,
		.nr_ranges = 1,
	};
	struct vfio_region_dma_range r = { .offset = 0, .length = len };
	int fd;

	memcpy(buf, &f, sizeof(f));
	memcpy(buf + sizeof(f), &d, sizeof(d));
	memcpy(buf + sizeof(f) + sizeof(d), &r, sizeof(r));
	fd = ioctl(devfd, VFIO_DEVICE_FEATURE, buf);
	return fd < 0 ? -errno : fd;
}

/*
 * The emulated platform, ready: tsm_emu and vfio_pci_tsm loaded, the test
 * device found (@bdf) and disconnected, the first TSM found (@tsm).
 */
static inline int tsm_platform_ready(char *bdf, size_t bdf_len, char *tsm,
				     size_t tsm_len)
{
	int ret = tsm_insmod_once(TSM_EMU_KO);

	if (!ret)
		ret = tsm_insmod_once(TSM_VFIO_KO);
	if (!ret)
		ret = tsm_find_test_device(bdf, bdf_len);
	if (!ret)
		ret = tsm_find_tsm(tsm, tsm_len);
	if (!ret)
		tsm_disconnect_any(bdf);
	return ret;
}

/* One assigned device of one VM, as a VMM holds it; -1/0 where not made. */
struct tsm_vmm {
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

static inline void tsm_vmm_init(struct tsm_vmm *v)
{
	memset(v, 0, sizeof(*v));
	v->vm = v->kvmdev = v->devfd = v->iommufd = -1;
}

/*
 * Whether the guest has an iommufd vIOMMU (QEMU's SMMUv3 on arm64). Without
 * one (x86_64), the test kernel's seam (CONFIG_VFIO_PCI_TSM_TEST_NO_VIOMMU)
 * lets VFIO_DEVICE_TSM_BIND bind with vDEVICE ID 0, the RID as TDI ID.
 */
#if defined(__aarch64__)
#define TSM_HAVE_VIOMMU 1
#else
#define TSM_HAVE_VIOMMU 0
#endif

/*
 * The iommufd side of an open device: bind @v->devfd to a new iommufd, build
 * the nest parent, an SMMUv3 vIOMMU and a vDEVICE with virtual ID @virt_id
 * (without a vIOMMU: attach an IOAS, vDEVICE ID 0); learn where the config
 * region is.
 */
static inline int tsm_vmm_iommufd(struct tsm_vmm *v, uint64_t virt_id)
{
	struct vfio_region_info ri;
	uint32_t ioas_id = 0;
	int ret;

	v->iommufd = open("/dev/iommu", O_RDWR);
	if (v->iommufd < 0)
		return -errno;
	if (!TSM_HAVE_VIOMMU) {
		ret = tsm_bind_iommufd(v->devfd, v->iommufd, &v->dev_id);
		if (!ret)
			ret = tsm_ioas_alloc(v->iommufd, &ioas_id);
		if (!ret)
			ret = tsm_attach_pt(v->devfd, ioas_id);
		goto config;
	}
	ret = tsm_setup_nest_parent(v->devfd, v->iommufd, &v->dev_id,
				    &v->hwpt_id);
	if (!ret)
		ret = tsm_viommu_alloc(v->iommufd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
				       v->dev_id, v->hwpt_id, &v->viommu_id);
	if (!ret)
		ret = tsm_vdevice_alloc(v->iommufd, v->viommu_id, v->dev_id,
					virt_id, &v->vdevice_id);
config:
	if (!ret)
		ret = tsm_region_info(v->devfd, VFIO_PCI_CONFIG_REGION_INDEX,
				      &ri);
	if (!ret)
		v->cfg_off = ri.offset;
	return ret;
}

/*
 * Opens @bdf's vfio cdev as a VMM would: with @kvm, KVM_DEV_VFIO_FILE_ADD to
 * @v->vm first (that is where the device gets its kvm), then tsm_vmm_iommufd().
 */
static inline int tsm_vmm_assign(struct tsm_vmm *v, const char *bdf, int kvm,
				 uint64_t virt_id)
{
	int ret;

	v->devfd = tsm_open_vfio_cdev(bdf);
	if (v->devfd < 0)
		return v->devfd;
	if (kvm) {
		ret = tsm_kvm_vfio_add(v->vm, &v->kvmdev, v->devfd);
		if (ret)
			return ret;
	}
	return tsm_vmm_iommufd(v, virt_id);
}

/* Closes what tsm_vmm_assign() opened, KVM's reference to the device first. */
static inline void tsm_vmm_release(struct tsm_vmm *v)
{
	if (v->kvmdev >= 0 && v->devfd >= 0)
		tsm_kvm_vfio_del(v->kvmdev, v->devfd);
	if (v->devfd >= 0)
		close(v->devfd);
	if (v->kvmdev >= 0)
		close(v->kvmdev);
	if (v->iommufd >= 0)
		close(v->iommufd);
	v->devfd = v->kvmdev = v->iommufd = -1;
}

/*
 * Opens @bdf through the legacy group and container (VFIO_TYPE1v2_IOMMU), as
 * a VMM without the cdev does: the device fd or -errno; the container and
 * group fds into *@container and *@group (-1 if not opened). -EBUSY if the
 * group is not viable (another of its devices not on a VFIO driver).
 */
static inline int tsm_open_vfio_group(const char *bdf, int *container,
				      int *group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[512], link[256];
	const char *name;
	ssize_t n;
	int fd;

	*container = *group = -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	name = strrchr(link, '/');
	name = name ? name + 1 : link;
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	*container = open("/dev/vfio/vfio", O_RDWR);
	if (*container >= 0)
		*group = open(path, O_RDWR);
	if (*group < 0 || ioctl(*group, VFIO_GROUP_GET_STATUS, &st)) {
		fd = -errno;
		goto fail;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fd = -EBUSY;
		goto fail;
	}
	if (ioctl(*group, VFIO_GROUP_SET_CONTAINER, container) ||
	    ioctl(*container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		fd = -errno;
		goto fail;
	}
	fd = ioctl(*group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (fd >= 0)
		return fd;
	fd = -errno;
fail:
	if (*group >= 0)
		close(*group);
	if (*container >= 0)
		close(*container);
	*container = *group = -1;
	return fd;
}

/* Starts tsm-fw and connects @bdf to TSM @tsm (waits for the firmware). */
static inline int tsm_connect_fw(const char *bdf, const char *tsm,
				 const char *log, pid_t *fw)
{
	*fw = tsm_fw_start_ready(log);
	if (*fw <= 0)
		return -ECHILD;
	return tsm_connect_wait(bdf, tsm);
}

/* 1 if @bdf has a bound TDI (sysfs tsm/bound), 0 if not, -1 on error. */
static inline int tsm_bound(const char *bdf)
{
	char buf[64];

	if (tsm_attr_read(bdf, "tsm/bound", buf, sizeof(buf)))
		return -1;
	return buf[0] != '\0';
}

/* Whether the file at @path (a model's log) has @what (up to 4 MiB of it). */
static inline int tsm_file_has(const char *path, const char *what)
{
	size_t cap = 4 << 20, len = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY), found;
	ssize_t n;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return 0;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	found = strstr(buf, what) != NULL;
	free(buf);
	return found;
}

/*
 * Occurrences of @what in the kernel log: the backends log every page or
 * firmware object they had to give up ("leaked"), which a correct teardown
 * never does.
 */
static inline int tsm_klog_count(const char *what)
{
	int size = klogctl(10, NULL, 0), n, count = 0;
	char *buf, *p;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	n = klogctl(3, buf, size);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, what)); p += strlen(what))
		count++;
	free(buf);
	return count;
}

/*
 * The vendor backends against their firmware models (drivers/virt/coco/,
 * tools/tsm): each module is loaded with its model parameter and registers a
 * TSM whose parent is a faux device of the module's name; each model serves
 * the module's conduit device.
 */
#define TSM_CCA_KO	"kernel/drivers/virt/coco/arm-cca-host/arm_cca_host.ko"
#define TSM_CCA_MOD	"arm_cca_host"
#define TSM_RMM_BIN	"/tsm/bin/tsm-rmm"
#define TSM_RMM_DEV	"/dev/tsm_rmm"
#define TSM_SEV_KO	"kernel/drivers/virt/coco/sev-tio-host/sev_tio_host.ko"
#define TSM_SEV_MOD	"sev_tio_host"
#define TSM_PSP_BIN	"/tsm/bin/tsm-psp"
#define TSM_PSP_DEV	"/dev/tsm_psp"
#define TSM_TRUST_ANCHOR "/etc/tsm/root.pem"

/* The TSM registered by backend module @mod (its parent is its faux device). */
static inline int tsm_find_backend_tsm(const char *mod, char *name, size_t len)
{
	char path[512], link[512];
	struct dirent *de;
	DIR *d = opendir("/sys/class/tsm");
	ssize_t n;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "tsm", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/class/tsm/%s/device", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strstr(link, mod) && strlen(de->d_name) < len) {
			strcpy(name, de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -ENOENT;
}

static inline int tsm_find_cca_tsm(char *name, size_t len)
{
	return tsm_find_backend_tsm(TSM_CCA_MOD, name, len);
}

/* Loads backend @mod (@ko below /lib/modules/<release>) with @param unless loaded. */
static inline int tsm_backend_insmod(const char *mod, const char *ko, const char *param)
{
	struct utsname u;
	char cmd[512];

	if (uname(&u))
		return -errno;
	snprintf(cmd, sizeof(cmd),
		 "grep -q '^%s ' /proc/modules || insmod /lib/modules/%s/%s %s",
		 mod, u.release, ko, param);
	return system(cmd) ? -ENOENT : 0;
}

/* Loads the CCA backend against the RMM model unless it is loaded. */
static inline int tsm_cca_insmod(void)
{
	return tsm_backend_insmod(TSM_CCA_MOD, TSM_CCA_KO, "rmm_model=1");
}

/*
 * Starts the firmware model @bin ("tsm-rmm", ...) with @argv after its name,
 * its output into @log (truncated).
 */
static inline pid_t tsm_model_exec(const char *log, const char *bin, char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execv(bin, argv);
		_exit(127);
	}
	return pid;
}

/* Starts tsm-rmm on TSM_RMM_DEV with @knobs, its output into @log. */
static inline pid_t tsm_rmm_start(const char *log, const char *knobs)
{
	char *const argv[] = { "tsm-rmm", "--dev", TSM_RMM_DEV, "--knobs",
			       (char *)knobs, NULL };

	return tsm_model_exec(log, TSM_RMM_BIN, argv);
}

/* Starts tsm-psp on TSM_PSP_DEV with @knobs, its output into @log. */
static inline pid_t tsm_psp_start(const char *log, const char *knobs)
{
	char *const argv[] = { "tsm-psp", "--dev", TSM_PSP_DEV, "--trust-anchor",
			       TSM_TRUST_ANCHOR, "--knobs", (char *)knobs, NULL };

	return tsm_model_exec(log, TSM_PSP_BIN, argv);
}


#endif /* __TSM_VMM_H */
