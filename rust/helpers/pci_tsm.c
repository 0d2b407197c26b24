// SPDX-License-Identifier: GPL-2.0

#include <linux/pci.h>
#include <linux/pci-tsm.h>

#ifdef CONFIG_PCI_TSM
__rust_helper bool rust_helper_is_pci_tsm_pf0(struct pci_dev *pdev)
{
	return is_pci_tsm_pf0(pdev);
}

__rust_helper void rust_helper_pci_tsm_device_lock(struct device *dev)
{
	device_lock(dev);
}

__rust_helper void rust_helper_pci_tsm_device_unlock(struct device *dev)
{
	device_unlock(dev);
}
#endif

#if defined(CONFIG_PCI_TSM) && IS_BUILTIN(CONFIG_KVM)
#include <linux/kvm_host.h>

__rust_helper struct kvm *rust_helper_pci_tsm_kvm_from_file(struct file *file)
{
	return file_is_kvm(file) ? file->private_data : NULL;
}

/* kernel::pci::tsm::Kvm is reference counted (ARef<Kvm>) */
__rust_helper void rust_helper_pci_tsm_kvm_get(struct kvm *kvm)
{
	kvm_get_kvm(kvm);
}

__rust_helper void rust_helper_pci_tsm_kvm_put(struct kvm *kvm)
{
	kvm_put_kvm(kvm);
}
#endif

#ifdef CONFIG_PCI_TSM
/* The firmware conduit names a page handed to firmware by its physical address */
__rust_helper phys_addr_t rust_helper_pci_tsm_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}
#endif
