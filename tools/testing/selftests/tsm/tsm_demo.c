// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TEE-IO lifecycle a VMM runs, step by step, on the emulated platform:
 * connect -> open the vfio cdev -> KVM -> iommufd (vIOMMU + vDEVICE) -> TSM
 * bind -> interface report -> RUN -> a refused BME clear -> unbind -> close
 * -> disconnect. After every step that reaches the device it prints the TDISP
 * state the emulated device security manager (tsm-dsm, on the host) reports.
 *
 * Output is TAP: one "ok N" per step, details as "#" lines. It stops at the
 * first failed step (the later ones need it) and cleans up.
 * Run by harness/guest/demo.sh (`make`); needs the arm64 guest.
 *
 * With --cca (`make TSM_BACKEND=cca`) the platform TSM is the Arm CCA host
 * backend (drivers/virt/coco/arm-cca-host) against the RMM model tsm-rmm, and
 * the guest requests are those of a CCA Realm (<linux/tsm_cca.h>).
 */
#include <signal.h>
#include <stdarg.h>

#include "tsm_vmm.h"

#define FW_LOG		"/tmp/tsm-fw-demo.log"
#define RMM_LOG		"/tmp/tsm-rmm-demo.log"
#define VIRT_ID		0x100
#define STEPS		11

static int step_no;
/* The Arm CCA backend and the RMM model instead of the emulated platform */
static int cca;

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Ends step @what: "ok" when @rc is 0, else "not ok" with the errno. */
static int step(int rc, const char *what)
{
	step_no++;
	if (rc)
		printf("not ok %d %s: %s\n", step_no, what, strerror(-rc));
	else
		printf("ok %d %s\n", step_no, what);
	fflush(stdout);
	return rc;
}

static void show_dsm(const char *bdf)
{
	char st[256];

	if (tsm_dsm_state(bdf, st, sizeof(st)))
		strcpy(st, "(no answer from the host)");
	say("tsm-dsm reports: %s", st);
}

static void show_report(const uint8_t *r, uint32_t len)
{
	uint32_t n, i;

	if (len < 16) {
		say("report: %u bytes (short)", len);
		return;
	}
	/* PCIe 6.x Table 11-15: INTERFACE_INFO, ..., MMIO_RANGE_COUNT at 12 */
	memcpy(&n, r + 12, 4);
	say("report: %u bytes, INTERFACE_INFO %#x, MSI-X control %#x, %u MMIO ranges",
	    len, r[0] | r[1] << 8, r[4] | r[5] << 8, n);
	for (i = 0; i < n && 16 + 16 * (i + 1) <= len; i++) {
		const uint8_t *m = r + 16 + 16 * i;
		uint64_t first;
		uint32_t pages;

		memcpy(&first, m, 8);
		memcpy(&pages, m + 8, 4);
		say("  range %u: FIRST_PAGE %#llx, %u pages, attributes %#x, id %u",
		    i, (unsigned long long)first, pages, m[12] | m[13] << 8,
		    m[14] | m[15] << 8);
	}
}

static const char *tdi_state_name(uint64_t s)
{
	if (cca) {
		switch (s) {
		case TSM_CCA_VDEV_UNLOCKED: return "UNLOCKED";
		case TSM_CCA_VDEV_LOCKED: return "LOCKED";
		case TSM_CCA_VDEV_STARTED: return "STARTED (RUN)";
		case TSM_CCA_VDEV_ERROR: return "ERROR";
		default: return "?";
		}
	}
	switch (s) {
	case TSM_FW_TDI_CONFIG_UNLOCKED: return "CONFIG_UNLOCKED";
	case TSM_FW_TDI_CONFIG_LOCKED: return "CONFIG_LOCKED";
	case TSM_FW_TDI_RUN: return "RUN";
	case TSM_FW_TDI_ERROR: return "ERROR";
	default: return "?";
	}
}

static int lifecycle(const char *bdf, const char *tsm, struct tsm_vmm *v,
		     pid_t *fw)
{
	uint8_t resp[4096];
	char buf[64];
	uint16_t cmd, nobme;
	uint32_t len;
	uint64_t code;
	uint32_t arch = cca ? IOMMU_VDEVICE_TSM_TVM_ARCH_CCA :
			      IOMMU_VDEVICE_TSM_TVM_ARCH_EMU;
	int rc;

	say("device %s, platform TSM %s (%s)", bdf, tsm,
	    cca ? "Arm CCA: arm-cca-host + the RMM model tsm-rmm" :
		  "emulated: samples/tsm + tsm-fw");
	if (cca) {
		*fw = tsm_rmm_start(RMM_LOG, "");
		rc = *fw > 0 ? tsm_connect_wait(bdf, tsm) : -ECHILD;
	} else {
		rc = tsm_connect_fw(bdf, tsm, FW_LOG, fw);
	}
	if (step(rc, "connect: tsm/connect <- tsm (SPDM session and IDE keys over DOE)"))
		return rc;
	show_dsm(bdf);

	rc = tsm_bind_driver(bdf, TSM_VFIO_DRV);
	if (!rc) {
		v->devfd = tsm_open_vfio_cdev(bdf);
		rc = v->devfd < 0 ? v->devfd : 0;
	}
	if (step(rc, "vfio: driver_override vfio-pci-tsm, vfio cdev opened"))
		return rc;

	v->vm = tsm_vm_create();
	rc = v->vm < 0 ? v->vm : tsm_kvm_vfio_add(v->vm, &v->kvmdev, v->devfd);
	if (step(rc, "KVM: KVM_CREATE_VM, KVM_DEV_VFIO_FILE_ADD of the cdev"))
		return rc;

	rc = tsm_vmm_iommufd(v, VIRT_ID);
	if (step(rc, "iommufd: BIND_IOMMUFD, nest parent HWPT, vIOMMU, vDEVICE"))
		return rc;
	say("dev_id %u, hwpt %u, viommu %u, vdevice %u (virtual ID %#x = TDI ID)",
	    v->dev_id, v->hwpt_id, v->viommu_id, v->vdevice_id, VIRT_ID);

	/* The guest driver would have memory decode and bus mastering on */
	rc = tsm_cfg_read(v->devfd, v->cfg_off, PCI_COMMAND, &cmd, 2);
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (!rc)
		rc = tsm_cfg_write(v->devfd, v->cfg_off, PCI_COMMAND, &cmd, 2);
	if (!rc)
		rc = tsm_vfio_bind(v->devfd, v->vdevice_id);
	if (step(rc, "TSM bind: VFIO_DEVICE_TSM_BIND (TDISP LOCK_INTERFACE)"))
		return rc;
	tsm_attr_read(bdf, "tsm/bound", buf, sizeof(buf));
	say("sysfs tsm/bound: %s", buf);
	show_dsm(bdf);

	len = sizeof(resp);
	rc = tsm_guest_req_arch(v->devfd, arch, cca ? TSM_CCA_GUEST_GET_REPORT :
				TSM_FW_GUEST_GET_REPORT, resp, &len, &code);
	if (step(rc, cca ? "report: VFIO_DEVICE_TSM_GUEST_REQ GET_REPORT (validated by the kernel)" :
		 "report: VFIO_DEVICE_TSM_GUEST_REQ GET_REPORT (validated by tsm-fw)"))
		return rc;
	show_report(resp, len);

	len = sizeof(resp);
	rc = tsm_guest_req_arch(v->devfd, arch, cca ? TSM_CCA_GUEST_START :
				TSM_FW_GUEST_START, resp, &len, &code);
	if (!rc) {
		len = sizeof(resp);
		rc = tsm_guest_req_arch(v->devfd, arch,
					cca ? TSM_CCA_GUEST_GET_STATE :
					      TSM_FW_GUEST_GET_STATE,
					resp, &len, &code);
	}
	if (!rc && code != (cca ? TSM_CCA_VDEV_STARTED : TSM_FW_TDI_RUN))
		rc = -EPROTO;
	if (step(rc, "RUN: GUEST_REQ START_INTERFACE, then GET_STATE"))
		return rc;
	say("TSM reports the TDI %s", tdi_state_name(code));
	show_dsm(bdf);

	nobme = cmd & ~PCI_COMMAND_MASTER;
	rc = tsm_cfg_write(v->devfd, v->cfg_off, PCI_COMMAND, &nobme, 2);
	say("pwrite(PCI_COMMAND = %#x, BME clear) -> %s", nobme,
	    rc ? strerror(-rc) : "written");
	rc = rc == -EBUSY && tsm_bound(bdf) == 1 ? 0 : (rc ? rc : -EPERM);
	if (step(rc, "BME clear refused while bound (EBUSY), TDI still bound"))
		return rc;
	show_dsm(bdf);

	rc = tsm_vfio_unbind(v->devfd);
	if (!rc && tsm_bound(bdf) != 0)
		rc = -EPROTO;
	if (step(rc, "unbind: VFIO_DEVICE_TSM_UNBIND (TDISP STOP_INTERFACE)"))
		return rc;
	show_dsm(bdf);

	rc = tsm_cfg_write(v->devfd, v->cfg_off, PCI_COMMAND, &nobme, 2);
	say("pwrite(PCI_COMMAND = %#x) unbound -> %s", nobme,
	    rc ? strerror(-rc) : "written");
	tsm_vmm_release(v);
	close(v->vm);
	v->vm = -1;
	if (step(rc, "close: KVM_DEV_VFIO_FILE_DEL, vfio cdev, iommufd and VM closed"))
		return rc;

	rc = tsm_attr_write(bdf, "tsm/disconnect", tsm);
	if (step(rc, "disconnect: tsm/disconnect (IDE keys stopped, END_SESSION)"))
		return rc;
	show_dsm(bdf);
	return 0;
}

/* The Arm CCA platform: vfio-pci-tsm, the backend on the model, the device. */
static int cca_ready(char *bdf, size_t bdf_len, char *tsm, size_t tsm_len)
{
	int ret = tsm_insmod_once(TSM_VFIO_KO);

	if (!ret)
		ret = tsm_cca_insmod();
	if (!ret)
		ret = tsm_find_test_device(bdf, bdf_len);
	if (!ret)
		ret = tsm_find_cca_tsm(tsm, tsm_len);
	if (!ret)
		tsm_disconnect_any(bdf);
	return ret;
}

int main(int argc, char **argv)
{
	char bdf[32], tsm[32];
	struct tsm_vmm v;
	pid_t fw = 0;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%d\n", STEPS);
	tsm_vmm_init(&v);
	cca = argc > 1 && !strcmp(argv[1], "--cca");
	rc = cca ? cca_ready(bdf, sizeof(bdf), tsm, sizeof(tsm)) :
		   tsm_platform_ready(bdf, sizeof(bdf), tsm, sizeof(tsm));
	if (rc) {
		printf("Bail out! no %s platform: %s\n", cca ? "Arm CCA" : "emulated",
		       strerror(-rc));
		return 1;
	}
	rc = lifecycle(bdf, tsm, &v, &fw);
	tsm_vmm_release(&v);
	if (v.vm >= 0)
		close(v.vm);
	if (rc)
		tsm_disconnect_any(bdf);
	tsm_fw_stop(fw, SIGTERM);
	if (cca && system("rmmod " TSM_CCA_MOD))
		printf("# rmmod " TSM_CCA_MOD " failed\n");
	printf("# %s: %d of %d steps\n", rc ? "FAILED" : "PASSED", step_no, STEPS);
	return rc ? 1 : 0;
}
