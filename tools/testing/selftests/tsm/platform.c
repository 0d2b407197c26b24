// SPDX-License-Identifier: GPL-2.0-only
/*
 * Facts about the test platform that every later tsm selftest stands on:
 * the test device binds to vfio-pci and opens as a vfio cdev, it binds to
 * iommufd with a nesting-parent HWPT, KVM can create a VM, and (arm64 only,
 * where the harness patches the IORT with CANWBS) iommufd can allocate an
 * SMMUv3 vIOMMU and a vdevice for it. On x86_64 under QEMU, VT-d offers no
 * nesting parent (so no vIOMMU); the test pins that down as EOPNOTSUPP so a
 * change in QEMU or the kernel is noticed.
 */
#include <linux/kvm.h>
#include <stddef.h>

#include "../kselftest_harness.h"
#include "tsm_utils.h"

#define IORT_RC_NODE 2
#define IORT_RC_MEM_FLAGS 23
#define IORT_MF_CANWBS 0x4

FIXTURE(platform) {
	char bdf[64];
	int devfd;
	int iommufd;
	uint32_t dev_id;
	uint32_t hwpt_id;
};

FIXTURE_SETUP(platform)
{
	ASSERT_EQ(0, tsm_find_test_device(self->bdf, sizeof(self->bdf)));
	ASSERT_EQ(0, tsm_bind_driver(self->bdf, "vfio-pci"));
	self->devfd = tsm_open_vfio_cdev(self->bdf);
	ASSERT_LE(0, self->devfd) TH_LOG("vfio cdev of %s: %s", self->bdf,
					 strerror(-self->devfd));
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
}

FIXTURE_TEARDOWN(platform)
{
	close(self->devfd);
	close(self->iommufd);
}

TEST_F(platform, cdev_binds_to_iommufd_and_attaches_ioas)
{
	uint32_t ioas_id = 0;

	ASSERT_EQ(0, tsm_bind_iommufd(self->devfd, self->iommufd, &self->dev_id));
	ASSERT_EQ(0, tsm_ioas_alloc(self->iommufd, &ioas_id));
	ASSERT_EQ(0, tsm_attach_pt(self->devfd, ioas_id));
}

TEST_F(platform, nest_parent_hwpt)
{
	int ret = tsm_setup_nest_parent(self->devfd, self->iommufd,
					&self->dev_id, &self->hwpt_id);
#if defined(__aarch64__)
	ASSERT_EQ(0, ret);
#else
	/*
	 * QEMU's intel-iommu does not offer nesting (no ECAP.NEST): a platform limit, so
	 * a skip with its reason, not a pass; any other answer is a failure.
	 */
	if (ret == -EOPNOTSUPP)
		SKIP(return, "QEMU's intel-iommu offers no nesting parent (EOPNOTSUPP)");
	ASSERT_EQ(0, ret);
#endif
}

TEST_F(platform, cdev_bind_twice_is_refused)
{
	uint32_t id;

	ASSERT_EQ(0, tsm_bind_iommufd(self->devfd, self->iommufd, &self->dev_id));
	ASSERT_EQ(-EINVAL, tsm_bind_iommufd(self->devfd, self->iommufd, &id));
}

TEST_F(platform, viommu_and_vdevice)
{
#if defined(__aarch64__)
	uint32_t viommu_id = 0, vdevice_id = 0;
	int ret;

	ASSERT_EQ(0, tsm_setup_nest_parent(self->devfd, self->iommufd,
					   &self->dev_id, &self->hwpt_id));
	ret = tsm_viommu_alloc(self->iommufd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
			       self->dev_id, self->hwpt_id, &viommu_id);
	ASSERT_EQ(0, ret) TH_LOG("SMMUv3 vIOMMU: %s (is the IORT override in?)",
				 strerror(-ret));
	ASSERT_EQ(0, tsm_vdevice_alloc(self->iommufd, viommu_id, self->dev_id,
				       0x10, &vdevice_id));
	/* One vdevice per device per vIOMMU. */
	ASSERT_EQ(-EEXIST, tsm_vdevice_alloc(self->iommufd, viommu_id,
					     self->dev_id, 0x11, &vdevice_id));
#else
	/* A vIOMMU needs a nesting parent, which x86 lacks here (nest_parent_hwpt). */
	SKIP(return, "no iommufd vIOMMU on x86 under QEMU");
#endif
}

/* QEMU's nvme with spdm_port has a DOE mailbox (extended capability 0x2e). */
TEST(doe_mailbox_present)
{
	char bdf[64];

	ASSERT_EQ(0, tsm_find_test_device(bdf, sizeof(bdf)));
	ASSERT_LT(0, tsm_find_ext_cap(bdf, PCI_EXT_CAP_ID_DOE))
		TH_LOG("no DOE extended capability (or extended config not readable)");
}

/* The software TSM firmware is a static binary for this arch and starts here. */
TEST(tsm_fw_runs)
{
	char out[256] = "";
	FILE *p;

	ASSERT_EQ(0, access("/tsm/bin/tsm-fw", X_OK));
	ASSERT_EQ(0, access("/etc/tsm/root.pem", R_OK));
	p = popen("/tsm/bin/tsm-fw --version 2>&1", "r");
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, fgets(out, sizeof(out), p));
	ASSERT_EQ(0, pclose(p));
	ASSERT_EQ(0, strncmp(out, "tsm-fw ", 7)) TH_LOG("tsm-fw said: %s", out);
}

TEST(kvm_create_vm)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR);
	ASSERT_LE(0, kvm) TH_LOG("/dev/kvm: %s", strerror(errno));
	ASSERT_EQ(KVM_API_VERSION, ioctl(kvm, KVM_GET_API_VERSION, 0));
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	close(vm);
	close(kvm);
}

TEST(iort_root_complex_is_canwbs)
{
#if defined(__aarch64__)
	unsigned char t[4096];
	uint32_t count, off, i;
	ssize_t n;
	int fd, found = 0;

	fd = open("/sys/firmware/acpi/tables/IORT", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, t, sizeof(t));
	close(fd);
	ASSERT_LT(48, n);
	memcpy(&count, t + 36, 4);
	memcpy(&off, t + 40, 4);
	for (i = 0; i < count && off + 24 <= (uint32_t)n; i++) {
		uint16_t len;

		memcpy(&len, t + off + 1, 2);
		ASSERT_LE(4, len);
		if (t[off] == IORT_RC_NODE) {
			EXPECT_TRUE(t[off + IORT_RC_MEM_FLAGS] & IORT_MF_CANWBS);
			found++;
		}
		off += len;
	}
	ASSERT_LT(0, found);
#else
	SKIP(return, "the IORT exists on arm64 only");
#endif
}

TEST_HARNESS_MAIN
