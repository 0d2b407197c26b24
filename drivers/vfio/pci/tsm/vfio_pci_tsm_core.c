// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-tsm: the vfio_pci_core glue of the TEE-IO (PCIe TDISP) variant
 * driver.
 *
 * Why C: a vfio-pci variant driver's drvdata must be its struct
 * vfio_pci_core_device (vfio_pci_core reads it back in its PM, AER and SR-IOV
 * callbacks), and its struct vfio_device_ops table, probe and the core's
 * locks (dev_set->lock) are C objects with no Rust abstraction in 7.2; Rust's
 * kernel::pci::Driver owns drvdata itself. So the ops table, probe/remove and
 * the ioctl plumbing live here; what is decided (which config writes would
 * take a bound TDI out of its TDISP state) is Rust (tsm_main.rs,
 * config_filter.rs, on tsm_proto::config::classify_config_write), as is the
 * module entry, which registers this PCI driver.
 *
 * The locked state (struct vfio_pci_tsm_device.state, changed under
 * map_lock, read locklessly by the hot paths) is
 * the driver's own: BINDING from a bind's claim, BOUND when the bind
 * succeeded, UNBOUND when it failed or when the PCI/TSM core tells us
 * (pci_tsm_bind_notify()) that it unbound the TDI, whichever path did it:
 * our unbind, close, vDEVICE destruction, disconnect, TSM unregistration or
 * removal. So the hot paths read one word and never wait for the core's
 * locks, which a firmware call holds.
 *
 * Invariants while the state is not UNBOUND: config writes clearing
 * BME/MSE, starting an FLR (PCIe or AF) or leaving D0, VFIO_DEVICE_RESET,
 * hot reset (also through a sibling of the dev_set), low power entry, BAR
 * mmap, BAR and ROM region read/write, VFIO_DEVICE_IOEVENTFD and dma-buf
 * export fail with -EBUSY; so does VFIO_DEVICE_SET_IRQS of MSI or MSI-X
 * while binding and, once bound, where the TSM locked the MSI-X table
 * (PCI_TDI_LOCKED_MSIX). The core sees the BARs as disabled
 * (pci_ops->mmio_blocked()): faults of mappings made before the bind get
 * SIGBUS, dma-bufs are revoked. Bind, unbind, reset and close serialize on
 * the device set lock (which vfio already holds around open and close);
 * a guest request takes only idev_lock, which open and close take inside
 * it, so a firmware round trip holds up no other function of the set.
 * Close unbinds before the device is disabled.
 *
 * In TEE mode, bound or not, config writes into a DOE mailbox or the IDE
 * capability fail with -EBUSY: the kernel's PCI/TSM drives them (it may
 * connect at any time; an abort or a stray request in the mailbox loses the
 * SPDM session, an IDE register write the link's encryption); vfio hides
 * both capabilities from the VMM's view anyway. While the device is
 * connected (or connecting) to a TSM, every write vfio would pass raw
 * (vendor-specific capabilities, DVSEC, hidden capabilities, unassigned
 * bytes) fails with -EBUSY too: nothing vfio cannot interpret reaches a
 * device whose security state the TSM holds.
 *
 * Host accesses and bind: mmap runs under mmap_lock, and config writes,
 * BAR read/write, ioeventfd registration, SET_IRQS, dma-buf export and low
 * power entry copy from the user, so none of them takes the device set
 * lock. The accesses in progress that started UNBOUND are counted with an
 * atomic, ordered against the bind's claim by a barrier on each side. A
 * bind claims the device under map_lock: it sets BINDING (from here BAR
 * accesses, mmap, ioeventfd registration and dma-buf export fail with
 * -EBUSY, MSI/MSI-X SET_IRQS too, config writes are filtered, and the core's
 * fault path sees the BARs disabled), waits until the counted accesses have
 * ended, zaps the BAR mappings and revokes the dma-bufs
 * (vfio_pci_core_block_mmio()), then fails with -EBUSY if an ioeventfd
 * exists or the device is in VFIO's low-power state. No interleaving leaves
 * a host path to the MMIO of a bound TDI, nor an unfiltered config write
 * reaching it. A mapping made while a bind is in progress faults with
 * SIGBUS like the older ones.
 *
 * Lock order: dev_set->lock -> idev_lock -> (iommufd igroup lock ->
 * pci_tsm_rwsem -> DSM lock) -> map_lock (bind and unbind: the same without
 * idev_lock); dev_set->lock -> ioeventfds_lock, memory_lock (the core's
 * fault path: mmap_lock -> memory_lock, under which mmio_blocked() reads
 * the state without a lock). map_lock is innermost and no sleeping
 * lock is taken under it; nothing of this driver runs under mmap_lock but
 * its mmap op, which takes no lock, and mmio_blocked().
 */
#include <linux/delay.h>
#include <linux/iommufd.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-tsm.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include <linux/wait.h>

#include "vfio_pci_tsm.h"

#define VFIO_PCI_TSM_MAX_REQ	SZ_4K
#define VFIO_PCI_TSM_MAX_RESP	SZ_64K
/* Config ranges of one function the kernel's PCI/TSM drives (DOE, IDE) */
#define VFIO_PCI_TSM_MAX_OWNED	8

/*
 * The locked state, owned by the driver: what every host path reads.
 * @VFIO_PCI_TSM_UNBOUND: no TDI of ours bound; the host may use the device
 * @VFIO_PCI_TSM_BINDING: a bind claimed the device and is in progress
 * @VFIO_PCI_TSM_BOUND: our TDI is bound (until the core says it unbound it)
 */
enum vfio_pci_tsm_state {
	VFIO_PCI_TSM_UNBOUND,
	VFIO_PCI_TSM_BINDING,
	VFIO_PCI_TSM_BOUND,
};

struct vfio_pci_tsm_device {
	struct vfio_pci_core_device core_device;
	/*
	 * The iommufd device while open through the cdev. Open and close set
	 * it under dev_set->lock and idev_lock; bind and unbind read it under
	 * the former, guest requests under the latter alone.
	 */
	struct iommufd_device *idev;
	struct mutex idev_lock;
	u16 pcie_cap;
	u16 pm_cap;
	u16 af_ctrl;
	/* Config ranges [start, end) of the device's DOE mailboxes and IDE */
	struct {
		u16 start, end;
	} owned[VFIO_PCI_TSM_MAX_OWNED];
	unsigned int nr_owned;
	/* Protects the transitions of state */
	spinlock_t map_lock;
	/*
	 * Started while UNBOUND and not ended: config writes, BAR/ROM region
	 * reads and writes, ioeventfd registrations, SET_IRQS, dma-buf
	 * exports, low power entries. A bind waits on access_done until there
	 * are none.
	 */
	atomic_t host_access;
	wait_queue_head_t access_done;
	/* Written under map_lock, read with READ_ONCE() on the hot paths */
	enum vfio_pci_tsm_state state;
	/*
	 * Given with every bind: the core tells it when the TDI is unbound,
	 * and sets its .locked (what the TSM locked) before the bind returns,
	 * so .locked is stable while BOUND (read under map_lock).
	 */
	struct pci_tsm_unbind_notifier unbind_nb;
};

static bool tee_mode = true;
module_param(tee_mode, bool, 0444);
MODULE_PARM_DESC(tee_mode,
		 "TEE-IO mode: exclusive BARs, TSM bind and the bound-state filter (default: on; fixed at load)");

#if IS_ENABLED(CONFIG_VFIO_PCI_TSM_TEST_PASS_WRITES)
/*
 * Test seam (test kernels only): config writes the filter would refuse reach
 * the device, so a test can show that the emulated device sees what the
 * refusal keeps from it (tools/testing/selftests/tsm/tsm_vfio.c).
 */
static bool test_pass_writes;
module_param(test_pass_writes, bool, 0644);
MODULE_PARM_DESC(test_pass_writes,
		 "Test seam: let every config write through to the device, refused or not (default: off)");
/* The same for BAR and ROM region reads and writes, and the core's view of them */
static bool test_pass_mmio;
module_param(test_pass_mmio, bool, 0644);
MODULE_PARM_DESC(test_pass_mmio,
		 "Test seam: let BAR and ROM region reads and writes through to the device, bound or not (default: off)");
/* The same for VFIO_DEVICE_PCI_HOT_RESET */
static bool test_pass_resets;
module_param(test_pass_resets, bool, 0644);
MODULE_PARM_DESC(test_pass_resets,
		 "Test seam: let VFIO_DEVICE_PCI_HOT_RESET through, bound or connected (default: off)");
#else
#define test_pass_writes false
#define test_pass_mmio false
#define test_pass_resets false
#endif

#if IS_ENABLED(CONFIG_VFIO_PCI_TSM_TEST_HOLD_OPS)
/*
 * Test seam (test kernels only): the calls iommufd routes here wait, before
 * the driver's lock, while test_hold_ops is set, so that a test can close and
 * reopen the device under a call in flight (tools/testing/selftests/tsm/
 * tsm_vfio.c, stale_ops_in_flight_after_reopen).
 */
static bool test_hold_ops;
module_param(test_hold_ops, bool, 0644);
MODULE_PARM_DESC(test_hold_ops,
		 "Test seam: hold IOMMU_VDEVICE_TSM_OP/REQ before the driver's lock, at most 30 s (default: off)");

static atomic_t test_ops_held = ATOMIC_INIT(0);

static int test_ops_held_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&test_ops_held));
}

static const struct kernel_param_ops test_ops_held_ops = {
	.get = test_ops_held_get,
};
module_param_cb(test_ops_held, &test_ops_held_ops, NULL, 0444);
MODULE_PARM_DESC(test_ops_held, "Test seam: calls held by test_hold_ops now");

static void tsm_test_hold(void)
{
	unsigned int waited;

	if (!READ_ONCE(test_hold_ops))
		return;
	atomic_inc(&test_ops_held);
	for (waited = 0; READ_ONCE(test_hold_ops) && waited < 30000;
	     waited += 10)
		msleep(10);
	atomic_dec(&test_ops_held);
}
#else
static inline void tsm_test_hold(void)
{
}
#endif

static struct vfio_pci_tsm_device *to_tsm(struct vfio_device *core_vdev)
{
	return container_of(core_vdev, struct vfio_pci_tsm_device,
			    core_device.vdev);
}

static struct mutex *tsm_lock(struct vfio_pci_tsm_device *tdev)
{
	return &tdev->core_device.vdev.dev_set->lock;
}

/*
 * A bind is in progress or our TDI is bound: the host keeps off. Read
 * without the lock: what a reader must not miss, it orders itself (the
 * counted accesses with the bind's barrier, the rest under dev_set->lock).
 */
static bool tsm_locked(struct vfio_pci_tsm_device *tdev)
{
	return READ_ONCE(tdev->state) != VFIO_PCI_TSM_UNBOUND;
}

/* The core unbound our TDI (any path); under its locks, must not sleep. */
static void tsm_unbound(struct pci_tsm_unbind_notifier *nb,
			struct pci_dev *pdev)
{
	struct vfio_pci_tsm_device *tdev =
		container_of(nb, struct vfio_pci_tsm_device, unbind_nb);

	guard(spinlock)(&tdev->map_lock);
	WRITE_ONCE(tdev->state, VFIO_PCI_TSM_UNBOUND);
}

/*
 * What keeps the host on the device's MMIO, checked after the claim (so
 * nothing new can start): an ioeventfd, or VFIO's low-power state, out of
 * which every later ioctl would resume the device and back into which it
 * would suspend (D3hot) a locked TDI.
 */
static int tsm_bind_blocked(struct vfio_pci_tsm_device *tdev)
{
	struct vfio_pci_core_device *vdev = &tdev->core_device;

	scoped_guard(mutex, &vdev->ioeventfds_lock) {
		if (!list_empty(&vdev->ioeventfds_list))
			return -EBUSY;
	}
	guard(rwsem_read)(&vdev->memory_lock);
	return vdev->pm_runtime_engaged ? -EBUSY : 0;
}

static int tsm_do_bind(struct vfio_pci_tsm_device *tdev,
		       struct iommufd_ctx *ictx, u32 vdevice_id)
{
	struct vfio_pci_core_device *vdev = &tdev->core_device;
	bool unblock;
	int ret;

	guard(mutex)(tsm_lock(tdev));
	if (!tdev->idev)
		return -EOPNOTSUPP;
	/* Claim the device; from here the core sees its BARs disabled */
	scoped_guard(spinlock, &tdev->map_lock) {
		if (tdev->state != VFIO_PCI_TSM_UNBOUND)
			return -EBUSY;
		WRITE_ONCE(tdev->state, VFIO_PCI_TSM_BINDING);
	}
	/*
	 * Pairs with tsm_host_access_begin(): either it sees BINDING and
	 * backs off, or this sees its count. The accesses admitted before the
	 * claim end first.
	 */
	smp_mb();
	ret = wait_event_killable(tdev->access_done,
				  !atomic_read(&tdev->host_access));
	if (!ret) {
		/* Mappings made before (or during) the claim fault from now */
		vfio_pci_core_block_mmio(vdev);
		ret = tsm_bind_blocked(tdev);
	}
	if (!ret)
		ret = iommufd_device_tsm_bind(tdev->idev, ictx, vdevice_id,
					      vdev->vdev.kvm, &tdev->unbind_nb);
	/*
	 * The core may have unbound the new TDI already (tsm_unbound() left
	 * UNBOUND): only a bind still in progress becomes BOUND.
	 */
	scoped_guard(spinlock, &tdev->map_lock) {
		if (tdev->state == VFIO_PCI_TSM_BINDING)
			WRITE_ONCE(tdev->state, ret ? VFIO_PCI_TSM_UNBOUND :
						      VFIO_PCI_TSM_BOUND);
		unblock = tdev->state == VFIO_PCI_TSM_UNBOUND;
	}
	if (unblock)
		vfio_pci_core_unblock_mmio(vdev);
	return ret;
}

static void tsm_host_access_end(struct vfio_pci_tsm_device *tdev)
{
	/*
	 * Fully ordered: the count drops before the state is read. Only a
	 * bind in progress waits for it to reach zero.
	 */
	if (!atomic_dec_return(&tdev->host_access) &&
	    READ_ONCE(tdev->state) == VFIO_PCI_TSM_BINDING)
		wake_up_all(&tdev->access_done);
}

/*
 * A host access starts: if UNBOUND, counted until tsm_host_access_end()
 * (returns true); else not counted (false). Lockless: the hot paths of an
 * unbound device pay two atomics.
 */
static bool tsm_host_access_begin(struct vfio_pci_tsm_device *tdev)
{
	atomic_inc(&tdev->host_access);
	/* Pairs with the barrier after the bind's claim in tsm_do_bind() */
	smp_mb__after_atomic();
	if (READ_ONCE(tdev->state) == VFIO_PCI_TSM_UNBOUND)
		return true;
	tsm_host_access_end(tdev);
	return false;
}

/* BARs and the ROM: the regions whose read/write is an access to the MMIO. */
static bool tsm_mmio_region(loff_t pos)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(pos);

	return index <= VFIO_PCI_BAR5_REGION_INDEX ||
	       index == VFIO_PCI_ROM_REGION_INDEX;
}

/* @ictx, @vdevice_id: as IOMMU_VDEVICE_TSM_OP named them, re-checked here */
static int tsm_do_unbind(struct vfio_pci_tsm_device *tdev,
			 struct iommufd_ctx *ictx, u32 vdevice_id)
{
	int ret;

	guard(mutex)(tsm_lock(tdev));
	if (!tdev->idev)
		return -EOPNOTSUPP;
	ret = iommufd_device_tsm_unbind(tdev->idev, ictx, vdevice_id);
	/*
	 * Unbound now, or earlier by the core underneath (disconnect): the
	 * dma-bufs revoked at bind come back. (After an unbind underneath,
	 * they stay revoked until this, or until the VMM sets Memory Space
	 * Enable again: the core's notifier cannot sleep.)
	 */
	if (!tsm_locked(tdev))
		vfio_pci_core_unblock_mmio(&tdev->core_device);
	return ret;
}

static void tsm_op_get(void *data)
{
	struct vfio_pci_tsm_device *tdev = data;

	get_device(&tdev->core_device.vdev.device);
}

static void tsm_op_put(void *data)
{
	struct vfio_pci_tsm_device *tdev = data;

	put_device(&tdev->core_device.vdev.device);
}

static int tsm_op_bind(void *data, struct iommufd_ctx *ictx, u32 vdevice_id)
{
	tsm_test_hold();
	return tsm_do_bind(data, ictx, vdevice_id);
}

static int tsm_op_unbind(void *data, struct iommufd_ctx *ictx, u32 vdevice_id)
{
	tsm_test_hold();
	return tsm_do_unbind(data, ictx, vdevice_id);
}

/* Copies a VFIO-style {argsz, flags, ...} argument of @minsz bytes. */
static int tsm_copy_arg(void *dst, size_t minsz, size_t size,
			void __user *arg)
{
	u32 argsz;
	int ret;

	if (get_user(argsz, (u32 __user *)arg))
		return -EFAULT;
	if (argsz < minsz)
		return -EINVAL;
	ret = copy_struct_from_user(dst, size, arg, argsz);
	return ret == -E2BIG ? -EINVAL : ret;
}

static int tsm_ioctl_bind(struct vfio_pci_tsm_device *tdev, void __user *arg)
{
	struct vfio_device_tsm_bind bind;
	int ret;

	ret = tsm_copy_arg(&bind, offsetofend(typeof(bind), pad), sizeof(bind),
			   arg);
	if (ret)
		return ret;
	if (bind.flags || bind.pad)
		return -EINVAL;
	return tsm_do_bind(tdev, NULL, bind.vdevice_id);
}

static int tsm_ioctl_unbind(struct vfio_pci_tsm_device *tdev, void __user *arg)
{
	struct vfio_device_tsm_unbind unbind;
	int ret;

	ret = tsm_copy_arg(&unbind, offsetofend(typeof(unbind), flags),
			   sizeof(unbind), arg);
	if (ret)
		return ret;
	if (unbind.flags)
		return -EINVAL;
	return tsm_do_unbind(tdev, NULL, 0);
}

static bool tsm_tvm_arch_known(u32 tvm_arch)
{
	switch (tvm_arch) {
	case IOMMU_VDEVICE_TSM_TVM_ARCH_CCA:
	case IOMMU_VDEVICE_TSM_TVM_ARCH_SEV:
	case IOMMU_VDEVICE_TSM_TVM_ARCH_TDX:
	case IOMMU_VDEVICE_TSM_TVM_ARCH_EMU:
		return true;
	default:
		return false;
	}
}

/*
 * The one decoder of VFIO_DEVICE_TSM_GUEST_REQ and IOMMU_VDEVICE_TSM_REQ
 * (@ictx, @vdevice_id: as the latter named them, re-checked here; NULL, 0 for
 * the former). Each buffer is copied once, with no lock held: the request in
 * before, the response out after the TSM ran. Returns the residue or -errno;
 * sets @r->tsm_code, and @r->resp_len only with -ENOSPC (the size needed).
 */
static int tsm_guest_req(struct vfio_pci_tsm_device *tdev,
			 struct iommufd_ctx *ictx, u32 vdevice_id,
			 struct iommufd_tsm_guest_req *r)
{
	struct pci_tsm_guest_req g = {
		.tvm_arch = r->tvm_arch,
		.op = r->op,
		.req_len = r->req_len,
		.resp_len = r->resp_len,
	};
	void *in = NULL, *out = NULL;
	int ret;

	r->tsm_code = 0;
	/* iommufd's convention: a value this kernel does not know */
	if (!tsm_tvm_arch_known(r->tvm_arch))
		return -EOPNOTSUPP;
	if (r->req_len > VFIO_PCI_TSM_MAX_REQ ||
	    r->resp_len > VFIO_PCI_TSM_MAX_RESP)
		return -EINVAL;

	if (r->req_len) {
		in = memdup_user(u64_to_user_ptr(r->req_uptr), r->req_len);
		if (IS_ERR(in))
			return PTR_ERR(in);
	}
	if (r->resp_len) {
		out = kvzalloc(r->resp_len, GFP_KERNEL);
		if (!out) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	g.req = in;
	g.resp = out;

	/*
	 * Not the device set lock: a firmware round trip must not hold up
	 * open, close, reset and bind of the set's other functions (nor the
	 * refusals of this one's).
	 */
	scoped_guard(mutex, &tdev->idev_lock) {
		if (!tdev->idev) {
			ret = -EOPNOTSUPP;
			goto out_free;
		}
		if (ictx) {
			ret = iommufd_device_tsm_vdevice(tdev->idev, ictx,
							 vdevice_id);
			if (ret)
				goto out_free;
		}
		ret = pci_tsm_guest_req(tdev->core_device.pdev, &g);
	}

	/* The TSM's code is for the guest even on failure */
	r->tsm_code = g.tsm_code;
	if (ret == -ENOSPC) {
		r->resp_len = min_t(size_t, g.resp_len, U32_MAX);
		goto out_free;
	}
	if (ret)
		goto out_free;
	if (WARN_ON_ONCE(g.resp_len > r->resp_len)) {
		ret = -EIO;
		goto out_free;
	}
	if (g.resp_len &&
	    copy_to_user(u64_to_user_ptr(r->resp_uptr), out, g.resp_len)) {
		ret = -EFAULT;
		goto out_free;
	}
	ret = r->resp_len - g.resp_len;
out_free:
	kfree(in);
	kvfree(out);
	return ret;
}

static int tsm_op_guest_req(void *data, struct iommufd_ctx *ictx,
			    u32 vdevice_id, struct iommufd_tsm_guest_req *r)
{
	tsm_test_hold();
	return tsm_guest_req(data, ictx, vdevice_id, r);
}

static const struct iommufd_tsm_ops vfio_pci_tsm_iommufd_ops = {
	.owner = THIS_MODULE,
	.get = tsm_op_get,
	.put = tsm_op_put,
	.bind = tsm_op_bind,
	.unbind = tsm_op_unbind,
	.guest_req = tsm_op_guest_req,
};

static int tsm_ioctl_guest_req(struct vfio_pci_tsm_device *tdev,
			       void __user *arg)
{
	struct vfio_device_tsm_guest_req req;
	struct iommufd_tsm_guest_req r;
	int ret;

	ret = tsm_copy_arg(&req, offsetofend(typeof(req), tsm_code),
			   sizeof(req), arg);
	if (ret)
		return ret;
	if (req.flags)
		return -EINVAL;

	r = (struct iommufd_tsm_guest_req) {
		.op = req.op,
		.tvm_arch = req.tvm_arch,
		.req_len = req.req_len,
		.resp_len = req.resp_len,
		.req_uptr = req.req_uptr,
		.resp_uptr = req.resp_uptr,
	};
	ret = tsm_guest_req(tdev, NULL, 0, &r);

	/* The TSM's code is for the guest on failure too, the size on ENOSPC */
	req.tsm_code = r.tsm_code;
	req.resp_len = r.resp_len;
	if (copy_to_user(arg, &req, offsetofend(typeof(req), tsm_code)))
		return -EFAULT;
	return ret;
}

/* Runs @cmd of the core under the device set lock unless a TDI is bound. */
static long tsm_ioctl_guarded(struct vfio_pci_tsm_device *tdev,
			      unsigned int cmd, unsigned long arg)
{
	guard(mutex)(tsm_lock(tdev));
	if (tsm_locked(tdev))
		return -EBUSY;
	return vfio_pci_core_ioctl(&tdev->core_device.vdev, cmd, arg);
}

static long vfio_pci_tsm_ioctl(struct vfio_device *core_vdev,
			       unsigned int cmd, unsigned long arg)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	void __user *uarg = (void __user *)arg;

	if (!tee_mode)
		return vfio_pci_core_ioctl(core_vdev, cmd, arg);

	switch (cmd) {
	case VFIO_DEVICE_TSM_BIND:
		return tsm_ioctl_bind(tdev, uarg);
	case VFIO_DEVICE_TSM_UNBIND:
		return tsm_ioctl_unbind(tdev, uarg);
	case VFIO_DEVICE_TSM_GUEST_REQ:
		return tsm_ioctl_guest_req(tdev, uarg);
	case VFIO_DEVICE_RESET:
		return tsm_ioctl_guarded(tdev, cmd, arg);
	case VFIO_DEVICE_IOEVENTFD: {
		/* The kernel would write the BAR whenever the eventfd fires */
		long ret;

		if (!tsm_host_access_begin(tdev))
			return -EBUSY;
		ret = vfio_pci_core_ioctl(core_vdev, cmd, arg);
		tsm_host_access_end(tdev);
		return ret;
	}
	case VFIO_DEVICE_SET_IRQS: {
		/*
		 * Counted while UNBOUND, so a bind waits for MSI/MSI-X
		 * programming in progress; else set_irqs_check() decides on
		 * the core's copy of the IRQ index.
		 */
		bool counted = tsm_host_access_begin(tdev);
		long ret;

		ret = vfio_pci_core_ioctl(core_vdev, cmd, arg);
		if (counted)
			tsm_host_access_end(tdev);
		return ret;
	}
	default:
		/* VFIO_DEVICE_PCI_HOT_RESET: refused by reset_check below */
		return vfio_pci_core_ioctl(core_vdev, cmd, arg);
	}
}

/*
 * The features that reach the device's MMIO: low power entry (a bound
 * device must stay in D0) and the export of a BAR as a dma-buf.
 */
static bool tsm_feature_is_host_access(u32 flags, u32 feature)
{
	return ((flags & VFIO_DEVICE_FEATURE_SET) &&
		(feature == VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY ||
		 feature == VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP)) ||
	       ((flags & VFIO_DEVICE_FEATURE_GET) &&
		feature == VFIO_DEVICE_FEATURE_DMA_BUF);
}

static int vfio_pci_tsm_device_feature(struct vfio_device *core_vdev,
				       u32 flags, void __user *arg,
				       size_t argsz)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	u32 feature = flags & VFIO_DEVICE_FEATURE_MASK;
	int ret;

	/*
	 * @flags is the vfio core's kernel copy: no user rewrite can race.
	 * The entry copies its argument from the user: counted, not under the
	 * device set lock; a bind waits for it and then sees the low power.
	 * A dma-buf export hands the BAR to a host importer: counted too, so
	 * the bind's revocation finds it.
	 */
	if (tee_mode && tsm_feature_is_host_access(flags, feature)) {
		if (!tsm_host_access_begin(tdev))
			return -EBUSY;
		ret = vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
		tsm_host_access_end(tdev);
		return ret;
	}
	return vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
}

static int vfio_pci_tsm_mmap(struct vfio_device *core_vdev,
			     struct vm_area_struct *vma)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	unsigned int index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);

	/*
	 * Called under mmap_lock: no lock of ours. A mapping made while a
	 * bind claims the device is not refused here, but the core's fault
	 * path sees the BARs disabled (mmio_blocked()) from the claim on.
	 */
	if (tee_mode && index <= VFIO_PCI_BAR5_REGION_INDEX && tsm_locked(tdev))
		return -EBUSY;
	return vfio_pci_core_mmap(core_vdev, vma);
}

/* BAR and ROM region reads: MMIO accesses, refused while bound. */
static ssize_t vfio_pci_tsm_read(struct vfio_device *core_vdev,
				 char __user *buf, size_t count, loff_t *ppos)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	ssize_t ret;

	if (!tee_mode || !tsm_mmio_region(*ppos) || READ_ONCE(test_pass_mmio))
		return vfio_pci_core_read(core_vdev, buf, count, ppos);
	if (!tsm_host_access_begin(tdev))
		return -EBUSY;
	ret = vfio_pci_core_read(core_vdev, buf, count, ppos);
	tsm_host_access_end(tdev);
	return ret;
}

/*
 * Config writes: one that starts UNBOUND is counted, so a bind waits for it
 * to reach the device; one that starts later is filtered by
 * vfio_pci_tsm_config_write_check(). BAR and ROM region writes are MMIO
 * accesses, refused unless UNBOUND.
 */
static ssize_t vfio_pci_tsm_write(struct vfio_device *core_vdev,
				  const char __user *buf, size_t count,
				  loff_t *ppos)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	bool counted;
	ssize_t ret;

	if (!tee_mode)
		return vfio_pci_core_write(core_vdev, buf, count, ppos);
	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) == VFIO_PCI_CONFIG_REGION_INDEX) {
		counted = tsm_host_access_begin(tdev);
		ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
		if (counted)
			tsm_host_access_end(tdev);
		return ret;
	}
	if (!tsm_mmio_region(*ppos) || READ_ONCE(test_pass_mmio))
		return vfio_pci_core_write(core_vdev, buf, count, ppos);
	if (!tsm_host_access_begin(tdev))
		return -EBUSY;
	ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
	tsm_host_access_end(tdev);
	return ret;
}

/* @pos..@pos+@count overlaps a range the kernel's PCI/TSM drives. */
static bool tsm_in_owned(struct vfio_pci_tsm_device *tdev, loff_t pos,
			 int count)
{
	unsigned int i;

	for (i = 0; i < tdev->nr_owned; i++) {
		if (pos < tdev->owned[i].end && pos + count > tdev->owned[i].start)
			return true;
	}
	return false;
}

/*
 * Config writes: called by vfio_pci_core with the value it then writes, the
 * mask of its bits that reach the device as they are, and whether vfio
 * passes the range raw.
 */
static int vfio_pci_tsm_config_write_check(struct vfio_pci_core_device *vdev,
					   loff_t pos, int count, __le32 val,
					   __le32 hw_mask, bool raw)
{
	struct vfio_pci_tsm_device *tdev =
		container_of(vdev, struct vfio_pci_tsm_device, core_device);
	u8 old[4] = {}, hw[4] = {}, user[4];
	u32 cur, mask;
	int i;

	if (count < 1 || count > 4 || pos < 0 || pos + count > 0x1000)
		return -EINVAL;
	if (READ_ONCE(test_pass_writes))
		return 0;
	if (tsm_in_owned(tdev, pos, count))
		return -EBUSY;
	/*
	 * Connecting or connected (the core sets pdev->tsm before it starts
	 * the SPDM exchange): a hint read without the core's locks, which a
	 * firmware call holds; a write racing the connect itself may pass.
	 */
	if (raw && READ_ONCE(vdev->pdev->tsm))
		return -EBUSY;
	if (!tsm_locked(tdev))
		return 0;

	/* What the device holds now, and will hold after vfio's write */
	cur = le32_to_cpu(val);
	mask = le32_to_cpu(hw_mask);
	for (i = 0; i < count; i++) {
		u8 b, m = (mask >> (8 * i)) & 0xff;

		if (pci_read_config_byte(vdev->pdev, pos + i, &b))
			return -EIO;
		old[i] = b;
		user[i] = (cur >> (8 * i)) & 0xff;
		hw[i] = (b & ~m) | (user[i] & m);
	}

	if (vfio_pci_tsm_write_refused(tdev->pcie_cap, tdev->pm_cap,
				       tdev->af_ctrl, pos, old, hw, user, count))
		return -EBUSY;
	return 0;
}

/*
 * Hot reset of the dev_set, requested through this or a sibling device:
 * refused while a TDI is bound, and while the device is connected (or
 * connecting) to a TSM, bound or not. A secondary bus reset is a
 * conventional reset of the device: it loses its SPDM session, its IDE keys
 * and its TDIs' states, and the PCI/TSM core would go on reporting it
 * connected. pdev->tsm is read as in the config filter, without the core's
 * locks.
 */
static int vfio_pci_tsm_reset_check(struct vfio_pci_core_device *vdev)
{
	struct vfio_pci_tsm_device *tdev =
		container_of(vdev, struct vfio_pci_tsm_device, core_device);

	lockdep_assert_held(tsm_lock(tdev));
	if (READ_ONCE(test_pass_resets))
		return 0;
	return tsm_locked(tdev) || READ_ONCE(vdev->pdev->tsm) ? -EBUSY : 0;
}

/*
 * VFIO_DEVICE_SET_IRQS of IRQ @index: MSI and MSI-X program the device (the
 * MSI-X table, the capability's control); refused while a bind is in
 * progress and, once bound, where the TSM locked the MSI-X table.
 */
static int vfio_pci_tsm_set_irqs_check(struct vfio_pci_core_device *vdev,
				       unsigned int index)
{
	struct vfio_pci_tsm_device *tdev =
		container_of(vdev, struct vfio_pci_tsm_device, core_device);

	if (index != VFIO_PCI_MSI_IRQ_INDEX && index != VFIO_PCI_MSIX_IRQ_INDEX)
		return 0;
	guard(spinlock)(&tdev->map_lock);
	if (tdev->state == VFIO_PCI_TSM_BINDING ||
	    (tdev->state == VFIO_PCI_TSM_BOUND &&
	     (tdev->unbind_nb.locked & PCI_TDI_LOCKED_MSIX)))
		return -EBUSY;
	return 0;
}

/*
 * Under memory_lock: the core sees the BARs disabled while not UNBOUND (or,
 * with the test seam test_pass_mmio set, never).
 */
static bool vfio_pci_tsm_mmio_blocked(struct vfio_pci_core_device *vdev)
{
	return !READ_ONCE(test_pass_mmio) &&
	       tsm_locked(container_of(vdev, struct vfio_pci_tsm_device,
				       core_device));
}

static const struct vfio_pci_device_ops vfio_pci_tsm_pci_ops = {
	.get_dmabuf_phys = vfio_pci_core_get_dmabuf_phys,
	.config_write_check = vfio_pci_tsm_config_write_check,
	.reset_check = vfio_pci_tsm_reset_check,
	.set_irqs_check = vfio_pci_tsm_set_irqs_check,
	.mmio_blocked = vfio_pci_tsm_mmio_blocked,
};

/* tee_mode=0: vfio-pci's own */
static const struct vfio_pci_device_ops vfio_pci_tsm_plain_pci_ops = {
	.get_dmabuf_phys = vfio_pci_core_get_dmabuf_phys,
};

/* Re-requests the BARs vfio_pci_core_enable() mapped, now exclusively. */
static int tsm_request_bars_exclusive(struct vfio_pci_core_device *vdev)
{
	struct pci_dev *pdev = vdev->pdev;
	int bar;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		if (IS_ERR_OR_NULL(vdev->barmap[bar]) ||
		    !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
			continue;
		pci_release_selected_regions(pdev, 1 << bar);
		if (pci_request_selected_regions_exclusive(pdev, 1 << bar,
							   "vfio-pci-tsm")) {
			/* Core disable must not release or unmap it again */
			pci_iounmap(pdev, vdev->barmap[bar]);
			vdev->barmap[bar] = IOMEM_ERR_PTR(-EBUSY);
			return -EBUSY;
		}
	}
	return 0;
}

static int vfio_pci_tsm_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	struct vfio_pci_core_device *vdev = &tdev->core_device;
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;

	if (tee_mode) {
		ret = tsm_request_bars_exclusive(vdev);
		if (ret)
			goto err_disable;
		/* Only cdev + iommufd opens can bind (VFIO_DEVICE_TSM_BIND) */
		if (core_vdev->iommufd_device) {
			ret = iommufd_device_tsm_register(core_vdev->iommufd_device,
							  &vfio_pci_tsm_iommufd_ops,
							  tdev);
			if (ret)
				goto err_disable;
			scoped_guard(mutex, &tdev->idev_lock)
				tdev->idev = core_vdev->iommufd_device;
		}
	}

	vfio_pci_core_finish_enable(vdev);
	return 0;

err_disable:
	vfio_pci_core_disable(vdev);
	return ret;
}

static void vfio_pci_tsm_close_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);

	/*
	 * dev_set->lock is held by vfio: serialized with bind and reset; and
	 * idev_lock with a guest request in progress, which ends first.
	 */
	scoped_guard(mutex, &tdev->idev_lock) {
		if (tdev->idev) {
			/*
			 * Unbind (TDISP STOP) before vfio_pci_core_disable()
			 * clears BME
			 */
			iommufd_device_tsm_unbind(tdev->idev, NULL, 0);
			iommufd_device_tsm_unregister(tdev->idev);
			tdev->idev = NULL;
		}
	}
	vfio_pci_core_close_device(core_vdev);
}

/*
 * Where the extended capability at @start ends: at the next capability
 * header above it, or at the end of config space (for a capability whose
 * length depends on its contents, IDE).
 */
static u16 tsm_ecap_end(struct pci_dev *pdev, u16 start)
{
	int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8;
	u16 pos = PCI_CFG_SPACE_SIZE, end = pdev->cfg_size;
	u32 header;

	while (ttl-- > 0 && pos >= PCI_CFG_SPACE_SIZE) {
		if (pci_read_config_dword(pdev, pos, &header) || !header ||
		    PCI_POSSIBLE_ERROR(header))
			break;
		if (pos > start && pos < end)
			end = pos;
		pos = PCI_EXT_CAP_NEXT(header);
	}
	return end;
}

static int tsm_add_owned(struct vfio_pci_tsm_device *tdev, u16 start, u16 end)
{
	if (tdev->nr_owned == VFIO_PCI_TSM_MAX_OWNED)
		return -EOPNOTSUPP;
	tdev->owned[tdev->nr_owned].start = start;
	tdev->owned[tdev->nr_owned++].end = end;
	return 0;
}

/*
 * Records the config ranges the kernel's PCI/TSM drives: the DOE mailboxes
 * and IDE. A device with more than we keep is refused, not left unfiltered.
 */
static int tsm_find_owned(struct vfio_pci_tsm_device *tdev,
			  struct pci_dev *pdev)
{
	u16 pos = 0;
	int ret = 0;

	while (!ret && (pos = pci_find_next_ext_capability(pdev, pos,
							   PCI_EXT_CAP_ID_DOE)))
		ret = tsm_add_owned(tdev, pos, pos + PCI_DOE_CAP_SIZEOF);
	pos = pci_find_ext_capability(pdev, PCI_EXT_CAP_ID_IDE);
	if (!ret && pos)
		ret = tsm_add_owned(tdev, pos, tsm_ecap_end(pdev, pos));
	if (ret)
		pci_warn(pdev, "more DOE/IDE capabilities than vfio-pci-tsm filters\n");
	return ret;
}

static int vfio_pci_tsm_init_dev(struct vfio_device *core_vdev)
{
	struct vfio_pci_tsm_device *tdev = to_tsm(core_vdev);
	struct pci_dev *pdev = to_pci_dev(core_vdev->dev);
	int ret;
	u8 af;

	spin_lock_init(&tdev->map_lock);
	mutex_init(&tdev->idev_lock);
	init_waitqueue_head(&tdev->access_done);
	tdev->unbind_nb.unbound = tsm_unbound;
	ret = tsm_find_owned(tdev, pdev);
	if (ret)
		return ret;
	tdev->pcie_cap = pci_pcie_cap(pdev);
	tdev->pm_cap = pdev->pm_cap;
	af = pci_find_capability(pdev, PCI_CAP_ID_AF);
	tdev->af_ctrl = af ? af + PCI_AF_CTRL : 0;
	return vfio_pci_core_init_dev(core_vdev);
}

static const struct vfio_device_ops vfio_pci_tsm_ops = {
	.name		= "vfio-pci-tsm",
	.init		= vfio_pci_tsm_init_dev,
	.release	= vfio_pci_core_release_dev,
	.open_device	= vfio_pci_tsm_open_device,
	.close_device	= vfio_pci_tsm_close_device,
	.ioctl		= vfio_pci_tsm_ioctl,
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
	.device_feature	= vfio_pci_tsm_device_feature,
	.read		= vfio_pci_tsm_read,
	.write		= vfio_pci_tsm_write,
	.mmap		= vfio_pci_tsm_mmap,
	.request	= vfio_pci_core_request,
	.match		= vfio_pci_core_match,
	.match_token_uuid = vfio_pci_core_match_token_uuid,
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
	.pasid_attach_ioas = vfio_iommufd_physical_pasid_attach_ioas,
	.pasid_detach_ioas = vfio_iommufd_physical_pasid_detach_ioas,
};

static int vfio_pci_tsm_probe(struct pci_dev *pdev,
			      const struct pci_device_id *id)
{
	struct vfio_pci_tsm_device *tdev;
	int ret;

	tdev = vfio_alloc_device(vfio_pci_tsm_device, core_device.vdev,
				 &pdev->dev, &vfio_pci_tsm_ops);
	if (IS_ERR(tdev))
		return PTR_ERR(tdev);

	tdev->core_device.pci_ops = tee_mode ? &vfio_pci_tsm_pci_ops :
					       &vfio_pci_tsm_plain_pci_ops;
	dev_set_drvdata(&pdev->dev, &tdev->core_device);
	ret = vfio_pci_core_register_device(&tdev->core_device);
	if (ret)
		vfio_put_device(&tdev->core_device.vdev);
	return ret;
}

static void vfio_pci_tsm_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

/* Binds only through driver_override, like vfio-pci with ids= empty. */
static const struct pci_device_id vfio_pci_tsm_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};
MODULE_DEVICE_TABLE(pci, vfio_pci_tsm_table);

static struct pci_driver vfio_pci_tsm_driver = {
	.name			= "vfio-pci-tsm",
	.id_table		= vfio_pci_tsm_table,
	.probe			= vfio_pci_tsm_probe,
	.remove			= vfio_pci_tsm_remove,
	.err_handler		= &vfio_pci_core_err_handlers,
	.driver_managed_dma	= true,
};

int vfio_pci_tsm_driver_register(void)
{
	return pci_register_driver(&vfio_pci_tsm_driver);
}

void vfio_pci_tsm_driver_unregister(void)
{
	pci_unregister_driver(&vfio_pci_tsm_driver);
}

MODULE_IMPORT_NS("IOMMUFD");
