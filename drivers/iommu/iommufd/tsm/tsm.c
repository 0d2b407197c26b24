// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd vDEVICE TEE-IO layer: bind a vDEVICE's physical PCI function as a
 * TEE-IO device interface (TDI) of a confidential VM through the PCI/TSM core.
 *
 * The vDEVICE names everything a bind needs: the device (its idev), the TDI
 * ID (its virtual ID: what the guest calls the function, e.g. the vSID of an
 * SMMUv3 vIOMMU) and, through the VFIO device that bound the idev, the KVM of
 * the VM. Two uAPIs reach this layer: VFIO_DEVICE_TSM_BIND/UNBIND on the VFIO
 * cdev (the VFIO driver calls iommufd_device_tsm_bind()/unbind() directly) and
 * IOMMU_VDEVICE_TSM_OP on the iommufd (routed through the VFIO driver's
 * iommufd_tsm_ops so that both serialize with the driver's reset and close).
 * Guest requests come the same two ways: VFIO_DEVICE_TSM_GUEST_REQ and
 * IOMMU_VDEVICE_TSM_REQ, one envelope (struct iommufd_tsm_guest_req) that the
 * VFIO driver decodes for both.
 *
 * It is compiled into iommufd because it needs iommufd's private objects
 * (struct iommufd_device, struct iommufd_vdevice lookup by ID, the igroup
 * lock), which no exported interface offers.
 *
 * Lock order: the VFIO driver's lock (dev_set->lock) -> igroup->lock ->
 * pci_tsm_rwsem -> the DSM lock.
 */
#include <linux/iommufd.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-tsm.h>

#include "../iommufd_private.h"

/**
 * iommufd_device_tsm_register() - Let IOMMU_VDEVICE_TSM_OP reach a VFIO driver
 * @idev: iommufd device the VFIO driver opened
 * @ops: The driver's TEE-IO operations
 * @data: Passed to @ops
 *
 * Called by a VFIO driver that supports TEE-IO when its device is opened
 * (after VFIO_DEVICE_BIND_IOMMUFD); undone with
 * iommufd_device_tsm_unregister() when it is closed.
 *
 * Return: 0, or -EBUSY if ops are registered already.
 */
int iommufd_device_tsm_register(struct iommufd_device *idev,
				const struct iommufd_tsm_ops *ops, void *data)
{
	guard(mutex)(&idev->igroup->lock);
	if (idev->tsm_ops)
		return -EBUSY;
	idev->tsm_ops = ops;
	idev->tsm_data = data;
	return 0;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_tsm_register, "IOMMUFD");

/**
 * iommufd_device_tsm_unregister() - Undo iommufd_device_tsm_register()
 * @idev: iommufd device
 *
 * The caller unbinds first (iommufd_device_tsm_unbind()).
 */
void iommufd_device_tsm_unregister(struct iommufd_device *idev)
{
	guard(mutex)(&idev->igroup->lock);
	idev->tsm_ops = NULL;
	idev->tsm_data = NULL;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_tsm_unregister, "IOMMUFD");

/*
 * The vDEVICE @vdevice_id of @idev, named in @ictx (NULL: @idev's own), with
 * a reference the caller puts. -EINVAL if @ictx is not @idev's iommufd or the
 * vDEVICE is another device's (an IOMMU_VDEVICE_TSM_OP that looked it up
 * before the VFIO device was closed and opened again, maybe by another
 * iommufd, is refused instead of acting on the next owner's TDI); -ENOENT if
 * it is no vDEVICE.
 */
static struct iommufd_vdevice *tsm_get_vdevice(struct iommufd_device *idev,
					       struct iommufd_ctx *ictx,
					       u32 vdevice_id)
{
	struct iommufd_object *obj;
	struct iommufd_vdevice *vdev;

	if (ictx && ictx != idev->ictx)
		return ERR_PTR(-EINVAL);
	obj = iommufd_get_object(idev->ictx, vdevice_id, IOMMUFD_OBJ_VDEVICE);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	vdev = container_of(obj, struct iommufd_vdevice, obj);
	/* Set when the vDEVICE is allocated, never changed */
	if (vdev->idev != idev) {
		iommufd_put_object(idev->ictx, obj);
		return ERR_PTR(-EINVAL);
	}
	return vdev;
}

/**
 * iommufd_device_tsm_vdevice() - Check that a vDEVICE names @idev's device
 * @idev: iommufd device of the calling VFIO device
 * @ictx: iommufd the caller named @vdevice_id in
 * @vdevice_id: vDEVICE ID in @ictx
 *
 * For a driver serving an iommufd_tsm_ops call that names a vDEVICE without
 * binding (@guest_req): the vDEVICE may have been looked up before the VFIO
 * device was closed and opened again.
 *
 * Return: 0; -EINVAL if @ictx is not @idev's iommufd or the vDEVICE is
 * another device's; -ENOENT if @vdevice_id is no vDEVICE.
 */
int iommufd_device_tsm_vdevice(struct iommufd_device *idev,
			       struct iommufd_ctx *ictx, u32 vdevice_id)
{
	struct iommufd_vdevice *vdev = tsm_get_vdevice(idev, ictx, vdevice_id);

	if (IS_ERR(vdev))
		return PTR_ERR(vdev);
	iommufd_put_object(idev->ictx, &vdev->obj);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_tsm_vdevice, "IOMMUFD");

/**
 * iommufd_device_tsm_bind() - Bind the device of @idev as a TDI
 * @idev: iommufd device of the calling VFIO device
 * @ictx: iommufd the caller named @vdevice_id in, or NULL for @idev's
 * @vdevice_id: vDEVICE of @idev; its virtual ID is the TDI ID
 * @kvm: KVM of the VFIO device (NULL if the VMM gave it none)
 * @nb: Told when the TDI is unbound, by any path (see pci_tsm_bind_notify())
 *
 * With CONFIG_VFIO_PCI_TSM_TEST_NO_VIOMMU (test kernels), @vdevice_id 0 and
 * no @ictx bind without a vDEVICE, with the function's requester ID as the
 * TDI ID.
 *
 * Context: process context; the caller serializes with its reset and close.
 * Return: 0; -ENOENT if @vdevice_id is no vDEVICE; -EINVAL if it is a vDEVICE
 * of another device or its virtual ID exceeds 32 bits; -ENOTCONN without
 * @kvm; -ENXIO if the device is not connected to a link TSM; -EBUSY if a TDI
 * is bound already; or the error of pci_tsm_bind_notify().
 */
int iommufd_device_tsm_bind(struct iommufd_device *idev,
			    struct iommufd_ctx *ictx, u32 vdevice_id,
			    struct kvm *kvm, struct pci_tsm_unbind_notifier *nb)
{
	struct iommufd_vdevice *vdev = NULL;
	struct pci_dev *pdev;
	u64 virt_id;
	int rc;

	if (!dev_is_pci(idev->dev))
		return -EOPNOTSUPP;
	pdev = to_pci_dev(idev->dev);

	if (IS_ENABLED(CONFIG_VFIO_PCI_TSM_TEST_NO_VIOMMU) && !ictx &&
	    !vdevice_id) {
		/* Test kernels only (see its Kconfig): the RID is the TDI ID */
		virt_id = pci_dev_id(pdev);
	} else {
		vdev = tsm_get_vdevice(idev, ictx, vdevice_id);
		if (IS_ERR(vdev))
			return PTR_ERR(vdev);
		virt_id = vdev->virt_id;
	}

	mutex_lock(&idev->igroup->lock);
	if (virt_id > U32_MAX) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (idev->destroying) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (!kvm) {
		rc = -ENOTCONN;
		goto out_unlock;
	}
	/* Read, not cached: the core unbinds on disconnect and removal */
	rc = pci_tsm_bind_state(pdev);
	if (rc < 0)
		goto out_unlock;
	if (rc > 0) {
		rc = -EBUSY;
		goto out_unlock;
	}
	rc = pci_tsm_bind_notify(pdev, kvm, virt_id, nb);
	if (!rc) {
		idev->tsm_bound = true;
		idev->tsm_nb = nb;
	}
out_unlock:
	mutex_unlock(&idev->igroup->lock);
	if (vdev)
		iommufd_put_object(idev->ictx, &vdev->obj);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_tsm_bind, "IOMMUFD");

static int __iommufd_device_tsm_unbind(struct iommufd_device *idev)
{
	struct pci_dev *pdev = to_pci_dev(idev->dev);
	bool unbound;

	lockdep_assert_held(&idev->igroup->lock);

	if (!idev->tsm_bound)
		return -ENXIO;
	/*
	 * Only the TDI this idev bound: the core may have unbound it
	 * underneath us (disconnect), and someone else bound the function
	 * since.
	 */
	unbound = pci_tsm_unbind_notify(pdev, idev->tsm_nb);
	idev->tsm_bound = false;
	idev->tsm_nb = NULL;
	return unbound ? 0 : -ENXIO;
}

/**
 * iommufd_device_tsm_unbind() - Unbind the TDI iommufd_device_tsm_bind() bound
 * @idev: iommufd device of the calling VFIO device
 * @ictx: iommufd the caller named @vdevice_id in (IOMMU_VDEVICE_TSM_OP), or
 *	  NULL (the VFIO device's own unbind and close)
 * @vdevice_id: vDEVICE of @idev in @ictx; ignored without @ictx
 *
 * Context: process context; the caller serializes with its reset and close.
 * Return: 0; -ENXIO if no TDI of @idev is bound; with @ictx, -EINVAL if it is
 * not @idev's iommufd or @vdevice_id is a vDEVICE of another device, -ENOENT
 * if it is no vDEVICE.
 */
int iommufd_device_tsm_unbind(struct iommufd_device *idev,
			      struct iommufd_ctx *ictx, u32 vdevice_id)
{
	struct iommufd_vdevice *vdev;

	if (!dev_is_pci(idev->dev))
		return -EOPNOTSUPP;
	if (ictx) {
		vdev = tsm_get_vdevice(idev, ictx, vdevice_id);
		if (IS_ERR(vdev))
			return PTR_ERR(vdev);
		iommufd_put_object(idev->ictx, &vdev->obj);
	}
	guard(mutex)(&idev->igroup->lock);
	return __iommufd_device_tsm_unbind(idev);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_tsm_unbind, "IOMMUFD");

/* Destroying a vDEVICE (by the user or with its idev) unbinds its TDI. */
void iommufd_vdevice_tsm_abort(struct iommufd_vdevice *vdev)
{
	struct iommufd_device *idev = vdev->idev;

	if (dev_is_pci(idev->dev))
		__iommufd_device_tsm_unbind(idev);
}

/*
 * The VFIO driver ops of the device of vDEVICE @vdevice_id, pinned (module and
 * @data): the caller calls tsm_put_ops(). -EOPNOTSUPP if the device's VFIO
 * driver has none (no TEE-IO support, or not open).
 */
static const struct iommufd_tsm_ops *tsm_get_ops(struct iommufd_ucmd *ucmd,
						 u32 vdevice_id, void **data)
{
	const struct iommufd_tsm_ops *ops = NULL;
	struct iommufd_device *idev;
	struct iommufd_object *obj;

	obj = iommufd_get_object(ucmd->ictx, vdevice_id, IOMMUFD_OBJ_VDEVICE);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	idev = container_of(obj, struct iommufd_vdevice, obj)->idev;

	mutex_lock(&idev->igroup->lock);
	if (idev->tsm_ops && try_module_get(idev->tsm_ops->owner)) {
		ops = idev->tsm_ops;
		*data = idev->tsm_data;
		ops->get(*data);
	}
	mutex_unlock(&idev->igroup->lock);
	/*
	 * Drop the vDEVICE before calling the driver: closing the VFIO device
	 * destroys the idev, which waits for vDEVICE users while holding the
	 * driver's lock that @ops take.
	 */
	iommufd_put_object(ucmd->ictx, obj);
	return ops ?: ERR_PTR(-EOPNOTSUPP);
}

static void tsm_put_ops(const struct iommufd_tsm_ops *ops, void *data)
{
	ops->put(data);
	module_put(ops->owner);
}

int iommufd_vdevice_tsm_op_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_vdevice_tsm_op *cmd = ucmd->cmd;
	const struct iommufd_tsm_ops *ops;
	void *data;
	int rc;

	/* iommufd's convention: what this kernel does not know is EOPNOTSUPP */
	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->type != IOMMU_VDEVICE_TSM_BIND &&
	    cmd->type != IOMMU_VDEVICE_TSM_UNBIND)
		return -EOPNOTSUPP;

	ops = tsm_get_ops(ucmd, cmd->vdevice_id, &data);
	if (IS_ERR(ops))
		return PTR_ERR(ops);
	if (cmd->type == IOMMU_VDEVICE_TSM_BIND)
		rc = ops->bind(data, ucmd->ictx, cmd->vdevice_id);
	else
		rc = ops->unbind(data, ucmd->ictx, cmd->vdevice_id);
	tsm_put_ops(ops, data);
	return rc;
}

int iommufd_vdevice_tsm_req_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_vdevice_tsm_req *cmd = ucmd->cmd;
	struct iommufd_tsm_guest_req req = {
		.op = cmd->op,
		.tvm_arch = cmd->tvm_arch,
		.req_len = cmd->req_len,
		.resp_len = cmd->resp_len,
		.req_uptr = cmd->req_uptr,
		.resp_uptr = cmd->resp_uptr,
	};
	const struct iommufd_tsm_ops *ops;
	void *data;
	int rc;

	ops = tsm_get_ops(ucmd, cmd->vdevice_id, &data);
	if (IS_ERR(ops))
		return PTR_ERR(ops);
	rc = ops->guest_req(data, ucmd->ictx, cmd->vdevice_id, &req);
	tsm_put_ops(ops, data);

	/* The TSM's code is for the guest on failure too, the size on ENOSPC */
	cmd->tsm_code = req.tsm_code;
	cmd->resp_len = req.resp_len;
	if (iommufd_ucmd_respond(ucmd, sizeof(*cmd)))
		return -EFAULT;
	return rc;
}
