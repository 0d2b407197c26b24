/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The locked state of vfio-pci-tsm, checked the same way whichever platform TSM
 * bound the TDI (tsm_vfio: the emulated one; tsm_cca: the Arm CCA backend): every
 * host path through VFIO and the PCI core that would reach a bound TDI is refused,
 * and the device itself (tsm-dsm's view of what reached it) saw none of them.
 */
#ifndef __TSM_LOCKED_H
#define __TSM_LOCKED_H

#include <sys/eventfd.h>
#include <sys/mman.h>

#include "../kselftest_harness.h"
#include "tsm_vmm.h"

/* pread/pwrite of a region at @off, 4 bytes: 0 or -errno. */
static inline int tsm_region_rw(int devfd, uint64_t off, int write)
{
	uint32_t v = 0;
	ssize_t n = write ? pwrite(devfd, &v, 4, off) : pread(devfd, &v, 4, off);

	return n == 4 ? 0 : (n < 0 ? -errno : -EIO);
}

/* A config write through the vfio region is refused with EBUSY. */
#define TSM_EXPECT_CFG_REFUSED(v, pos, val, len) do {			\
		typeof(val) _val = (val);				\
		EXPECT_EQ(-EBUSY, tsm_cfg_write((v)->devfd, (v)->cfg_off, (pos), \
						&_val, (len)))		\
			TH_LOG("config write at %#x", (unsigned int)(pos)); \
	} while (0)

/*
 * With the device of @bdf bound through @v (TDI CONFIG_LOCKED or RUN, Memory
 * Space and Bus Master on: PCI_COMMAND is @cmd), every host path to it is
 * refused with EBUSY: the config writes the TDISP lock forbids (MSE or BME
 * clear, FLR, D3hot, the locked Device Control fields), raw config bytes, the DOE mailbox, root's own config
 * writes, resets, low-power entry, BAR and ROM access (read, write, mmap,
 * ioeventfd, dma-buf export) and, with @msix_locked, MSI-X programming. The TDI
 * stays bound, and the device saw no config write, no MMIO access, no
 * violation, no change of its TDI or SPDM state.
 */
static inline void tsm_expect_locked(struct __test_metadata *_metadata,
				     const char *bdf, struct tsm_vmm *v,
				     uint16_t cmd, bool msix_locked)
{
	struct vfio_device_feature lp = {
		.argsz = sizeof(lp),
		.flags = VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
	};
	struct vfio_pci_hot_reset hr = { .argsz = sizeof(hr) };
	int pcie = tsm_find_cap(bdf, PCI_CAP_ID_EXP);
	int pm = tsm_find_cap(bdf, PCI_CAP_ID_PM);
	int doe = tsm_find_ext_cap(bdf, PCI_EXT_CAP_ID_DOE);
	struct vfio_region_info bar0, rom;
	struct tsm_dsm_host before;
	uint16_t v16, devctl, devctl2;
	void *map;
	int efd;

	/* The test platform (harness/qemu.py) has each of these: none is optional */
	ASSERT_LT(0, pcie);
	ASSERT_LT(0, pm);
	ASSERT_LT(0, doe);
	ASSERT_EQ(0, tsm_region_info(v->devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_EQ(0, tsm_region_info(v->devfd, VFIO_PCI_ROM_REGION_INDEX, &rom));
	ASSERT_LE(0x2000ULL, bar0.size);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(1, tsm_bound(bdf));
	ASSERT_EQ(0, tsm_dsm_host(bdf, &before));
	ASSERT_TRUE(!strcmp(before.tdi, "CONFIG_LOCKED") || !strcmp(before.tdi, "RUN"))
		TH_LOG("TDI %s", before.tdi);

	/* What the lock forbids the device to see: MSE or BME clear, FLR, D3hot */
	TSM_EXPECT_CFG_REFUSED(v, PCI_COMMAND, (uint16_t)(cmd & ~PCI_COMMAND_MEMORY), 2);
	TSM_EXPECT_CFG_REFUSED(v, PCI_COMMAND, (uint16_t)(cmd & ~PCI_COMMAND_MASTER), 2);
	TSM_EXPECT_CFG_REFUSED(v, PCI_COMMAND, (uint8_t)(cmd & 0xff & ~PCI_COMMAND_MASTER), 1);
	TSM_EXPECT_CFG_REFUSED(v, pcie + PCI_EXP_DEVCTL, (uint16_t)PCI_EXP_DEVCTL_BCR_FLR, 2);
	TSM_EXPECT_CFG_REFUSED(v, pm + PCI_PM_CTRL, (uint16_t)PCI_PM_CTRL_STATE_MASK, 2);
	/* The Device Control (2) fields the lock covers (tsm_proto DEVCTL_LOCKED) */
	ASSERT_EQ(0, tsm_cfg_read(v->devfd, v->cfg_off, pcie + PCI_EXP_DEVCTL, &devctl, 2));
	ASSERT_EQ(0, tsm_cfg_read(v->devfd, v->cfg_off, pcie + PCI_EXP_DEVCTL2, &devctl2, 2));
	TSM_EXPECT_CFG_REFUSED(v, pcie + PCI_EXP_DEVCTL,
			       (uint16_t)(devctl ^ PCI_EXP_DEVCTL_RELAX_EN), 2);
	TSM_EXPECT_CFG_REFUSED(v, pcie + PCI_EXP_DEVCTL,
			       (uint16_t)(devctl ^ PCI_EXP_DEVCTL_NOSNOOP_EN), 2);
	TSM_EXPECT_CFG_REFUSED(v, pcie + PCI_EXP_DEVCTL,
			       (uint16_t)(devctl ^ PCI_EXP_DEVCTL_READRQ_256B), 2);
	TSM_EXPECT_CFG_REFUSED(v, pcie + PCI_EXP_DEVCTL2,
			       (uint16_t)(devctl2 ^ PCI_EXP_DEVCTL2_IDO_REQ_EN), 2);
	/* Raw bytes of no capability, and the DOE mailbox the TSM owns */
	TSM_EXPECT_CFG_REFUSED(v, 0xffc, (uint32_t)0, 4);
	TSM_EXPECT_CFG_REFUSED(v, doe + PCI_DOE_CTRL, (uint32_t)PCI_DOE_CTRL_ABORT, 4);
	TSM_EXPECT_CFG_REFUSED(v, doe + PCI_DOE_WRITE, (uint32_t)0x00010001, 4);
	TSM_EXPECT_CFG_REFUSED(v, doe + PCI_DOE_READ, (uint32_t)0, 4);
	/* Root's own config writes (setpci), even one that changes nothing */
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(-EBUSY, tsm_user_write_config(bdf, false, PCI_COMMAND, &v16, 2));
	EXPECT_EQ(-EBUSY, tsm_user_write_config(bdf, true, PCI_COMMAND, &v16, 2));
	EXPECT_EQ(-EBUSY, tsm_user_write_config(bdf, false, PCI_COMMAND, &cmd, 2));

	/* Resets and low power */
	EXPECT_EQ(-1, ioctl(v->devfd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, ioctl(v->devfd, VFIO_DEVICE_PCI_HOT_RESET, &hr));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, ioctl(v->devfd, VFIO_DEVICE_FEATURE, &lp));
	EXPECT_EQ(EBUSY, errno);

	/* The MMIO: BAR0 (offset 0x1000 is the nvme doorbell page) and the ROM */
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, v->devfd,
		   bar0.offset);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EBUSY, errno);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	EXPECT_EQ(-EBUSY, tsm_region_rw(v->devfd, bar0.offset, 0));
	EXPECT_EQ(-EBUSY, tsm_region_rw(v->devfd, bar0.offset + 0x14, 1));
	EXPECT_EQ(-EBUSY, tsm_region_rw(v->devfd, bar0.offset + 0x1000, 1));
	EXPECT_EQ(-EBUSY, tsm_region_rw(v->devfd, rom.offset, 0));
	EXPECT_EQ(-EBUSY, tsm_ioeventfd(v->devfd, bar0.offset + 0x1000, 0, efd));
	EXPECT_EQ(-EBUSY, tsm_dma_buf_export(v->devfd, 0, 4096));

	/* Interrupts: the MSI-X table is the TDI's when its lock covers it */
	if (msix_locked)
		EXPECT_EQ(-EBUSY, tsm_set_irq(v->devfd, VFIO_PCI_MSIX_IRQ_INDEX, efd));
	close(efd);

	/* None of it unbound the TDI or reached the device */
	EXPECT_EQ(1, tsm_bound(bdf));
	TSM_EXPECT_DEVICE_SAW_NOTHING(bdf, before);
}

#endif /* __TSM_LOCKED_H */
