// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Arm CCA host backend (drivers/virt/coco/arm-cca-host, arm_cca_host.ko)
 * against the CCA RMM model tsm-rmm, through the firmware conduit
 * (/dev/tsm_rmm): the whole VMM path. tsm/connect and disconnect (the RMM
 * creates the root port's and the endpoint's PDEVs, runs SPDM with tsm-dsm
 * through the kernel's DOE relay, keys the IDE stream); VFIO_DEVICE_TSM_BIND
 * and IOMMU_VDEVICE_TSM_OP bind and unbind (a VDEV whose guest ID is the
 * vDEVICE's virtual ID: the model logs what it got); guest requests of
 * tvm_arch CCA (<linux/tsm_cca.h>); and every fault knob of the model, after
 * which the device and the kernel must be in a clean, asserted state.
 *
 * Each test starts its own tsm-rmm (its knobs on its command line) and ends
 * with the model stopped and the module unloaded, so the other selftests see
 * only their TSM. arm64 only: the backend is an arm64 driver.
 */
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "tsm_vmm.h"
#include "tsm_locked.h"

#define RMM_LOG		"/tmp/tsm-rmm.log"
#define VIRT_ID		0x100

/* A CCA guest request on the VFIO device: 0 or -errno. */
static int cca_req(int devfd, uint32_t op, const void *req, uint32_t req_len,
		   void *resp, uint32_t *resp_len, uint64_t *code)
{
	return tsm_guest_req_payload(devfd, IOMMU_VDEVICE_TSM_TVM_ARCH_CCA, op,
				     req, req_len, resp, resp_len, code);
}

/* What a test of either fixture holds. */
struct cca_env {
	int leaks;
	char bdf[32];
	char tsm[32];
	pid_t rmm;
	struct tsm_vmm v;
};

/* The module (against the model), the test device disconnected, the TSM's name. */
static int env_setup(struct cca_env *self)
{
	int rc;

	self->rmm = 0;
	self->bdf[0] = '\0';
	tsm_vmm_init(&self->v);
	rc = tsm_insmod_once(TSM_VFIO_KO);
	if (!rc)
		rc = tsm_cca_insmod();
	if (!rc)
		rc = tsm_find_cca_tsm(self->tsm, sizeof(self->tsm));
	if (!rc)
		rc = tsm_find_test_device(self->bdf, sizeof(self->bdf));
	if (!rc)
		tsm_disconnect_any(self->bdf);
	self->leaks = tsm_klog_count("leaked");
	return rc;
}

static void env_teardown(struct cca_env *self)
{
	tsm_vmm_release(&self->v);
	if (self->v.vm >= 0)
		close(self->v.vm);
	if (self->bdf[0])
		tsm_disconnect_any(self->bdf);
	if (self->rmm > 0) {
		kill(self->rmm, SIGTERM);
		waitpid(self->rmm, NULL, 0);
	}
	/* The other selftests find the first TSM: this one must go. */
	if (system("! grep -q '^" TSM_CCA_MOD " ' /proc/modules || rmmod " TSM_CCA_MOD))
		fprintf(stderr, "# rmmod " TSM_CCA_MOD " failed\n");
}

#if defined(__aarch64__)
#define NEEDS_ARM64() do { } while (0)
#else
#define NEEDS_ARM64() SKIP(return, "the Arm CCA host backend is an arm64 driver")
#endif

FIXTURE(cca) {
	struct cca_env e;
};

FIXTURE_SETUP(cca)
{
	self->e.rmm = 0;
	self->e.bdf[0] = '\0';
	tsm_vmm_init(&self->e.v);
	NEEDS_ARM64();
	ASSERT_EQ(0, env_setup(&self->e));
}

FIXTURE_TEARDOWN(cca)
{
	env_teardown(&self->e);
}

/* The TDI state tsm-dsm reports is @want. */
#define EXPECT_DSM(want) do {						\
		char _st[64] = "";					\
		EXPECT_EQ(0, tsm_dsm_tdi_state(self->e.bdf, _st, sizeof(_st))); \
		EXPECT_STREQ(want, _st);				\
	} while (0)

/* The SPDM state tsm-dsm reports is @want ("established", "none"). */
#define EXPECT_SPDM(want) do {						\
		struct tsm_dsm_host _h;					\
		EXPECT_EQ(0, tsm_dsm_host(self->e.bdf, &_h));		\
		EXPECT_STREQ(want, _h.spdm);				\
	} while (0)

static int connect_rmm(struct cca_env *self, const char *knobs)
{
	self->rmm = tsm_rmm_start(RMM_LOG, knobs);
	if (self->rmm <= 0)
		return -ECHILD;
	/* ENODEV until the model holds /dev/tsm_rmm */
	return tsm_connect_wait(self->bdf, self->tsm);
}

/* Opens the device as a VMM does, with a VM and a vDEVICE of VIRT_ID. */
static int assign(struct cca_env *self)
{
	int rc = tsm_bind_driver(self->bdf, TSM_VFIO_DRV);

	if (rc)
		return rc;
	self->v.vm = tsm_vm_create();
	if (self->v.vm < 0)
		return self->v.vm;
	return tsm_vmm_assign(&self->v, self->bdf, 1, VIRT_ID);
}

/* Not connected, and the device has no session and an unlocked TDI. */
/*
 * The kernel reports the device disconnected, its TDI unlocked, nothing leaked
 * beyond what the test expects; the device's SPDM session is @spdm ("none"
 * unless the RMM kept the session it could not stop).
 */
#define EXPECT_DISCONNECTED_SPDM(spdm) do {				\
		char _c[64] = "?";					\
		EXPECT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect", _c,	\
					   sizeof(_c)));		\
		EXPECT_STREQ("", _c);					\
		EXPECT_SPDM(spdm);					\
		EXPECT_DSM("CONFIG_UNLOCKED");				\
		EXPECT_EQ(self->e.leaks, tsm_klog_count("leaked"))		\
			TH_LOG("the backend leaked granules or RMM objects"); \
	} while (0)
#define EXPECT_DISCONNECTED() EXPECT_DISCONNECTED_SPDM("none")

/* Connect and disconnect through the RMM: the device saw the session, then none. */
TEST_F_TIMEOUT(cca, connect_disconnect, 180)
{
	char buf[64];

	ASSERT_EQ(0, connect_rmm(&self->e, ""));
	ASSERT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect", buf, sizeof(buf)));
	EXPECT_STREQ(self->e.tsm, buf);
	EXPECT_SPDM("established");
	EXPECT_TRUE(tsm_file_has(RMM_LOG, "RootPort"));
	EXPECT_TRUE(tsm_file_has(RMM_LOG, "OffChipEndpoint"));
	EXPECT_EQ(-EBUSY, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
	/* And again: the teardown left the RMM and the device reusable */
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_SPDM("established");
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
}

/* No model: a clear ENODEV, nothing left. */
TEST_F(cca, connect_without_model)
{
	EXPECT_EQ(-ENODEV, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_DISCONNECTED();
}

/*
 * VFIO_DEVICE_TSM_BIND through the RMM: the VDEV has the vDEVICE's virtual ID
 * as its guest ID, the device locks; guest requests read the report and the
 * state and start the TDI; unbind unlocks it.
 */
TEST_F_TIMEOUT(cca, vfio_bind_guest_requests_unbind, 240)
{
	uint8_t rep[8192], st;
	uint32_t len, off;
	uint64_t code;
	char want[64];
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, connect_rmm(&self->e, ""));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	EXPECT_EQ(1, tsm_bound(self->e.bdf));
	EXPECT_DSM("CONFIG_LOCKED");
	snprintf(want, sizeof(want), "as guest ID %#x", TSM_HAVE_VIOMMU ? VIRT_ID : 0);
	EXPECT_TRUE(tsm_file_has(RMM_LOG, want)) TH_LOG("the model did not log '%s'", want);

	/* Refused while bound, and the device saw nothing of it */
	EXPECT_EQ(-EBUSY, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	EXPECT_EQ(-1, ioctl(self->e.v.devfd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_DSM("CONFIG_LOCKED");

	len = 1;
	EXPECT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_STATE, NULL, 0,
			     &st, &len, &code));
	EXPECT_EQ(1U, len);
	EXPECT_EQ(TSM_CCA_VDEV_LOCKED, st);
	EXPECT_EQ((uint64_t)TSM_CCA_VDEV_LOCKED, code);

	/* The report: too small a buffer says the size; then whole; then a tail */
	len = 4;
	EXPECT_EQ(-ENOSPC, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_REPORT, NULL,
				   0, rep, &len, &code));
	ASSERT_LT(16U, len);
	ASSERT_GE(sizeof(rep), len);
	len = sizeof(rep);
	ASSERT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_REPORT, NULL, 0,
			     rep, &len, &code));
	off = 4;
	{
		uint8_t tail[8192];
		uint32_t tlen = sizeof(tail);

		ASSERT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_REPORT,
				     &off, sizeof(off), tail, &tlen, &code));
		EXPECT_EQ(len - 4, tlen);
		EXPECT_EQ(0, memcmp(rep + 4, tail, tlen));
	}
	/* Malformed payloads and unknown ops */
	len = sizeof(rep);
	EXPECT_EQ(-EINVAL, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_REPORT, &off,
				   2, rep, &len, &code));
	len = sizeof(rep);
	EXPECT_EQ(-EOPNOTSUPP, cca_req(self->e.v.devfd, 99, NULL, 0, rep, &len,
				       &code));
	EXPECT_DSM("CONFIG_LOCKED");

	len = 0;
	EXPECT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_START, NULL, 0, rep,
			     &len, &code));
	EXPECT_EQ((uint64_t)TSM_CCA_VDEV_STARTED, code);
	EXPECT_DSM("RUN");

	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM("CONFIG_UNLOCKED");
	/* Binds again after unbind */
	ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

/*
 * The locked state holds with this backend too: bound through the RMM (and
 * started), every host path to the TDI is refused and the device saw none of
 * them (tsm_locked.h; the backend asks the RMM to lock MSI-X). Unbound, the
 * same paths work again and reach the device.
 */
TEST_F_TIMEOUT(cca, locked_state_refusals, 240)
{
	struct vfio_region_info bar0;
	struct tsm_dsm_host saw, now;
	uint16_t cmd, v16;
	uint32_t len = 0;
	uint64_t code;
	uint8_t b[8];
	void *map;
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, tsm_region_info(self->e.v.devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_EQ(0, tsm_cfg_read(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(0, tsm_cfg_write(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &cmd, 2));
	ASSERT_EQ(0, connect_rmm(&self->e, ""));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	EXPECT_DSM("CONFIG_LOCKED");
	tsm_expect_locked(_metadata, self->e.bdf, &self->e.v, cmd, true);
	ASSERT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_START, NULL, 0, b, &len,
			     &code));
	EXPECT_DSM("RUN");
	tsm_expect_locked(_metadata, self->e.bdf, &self->e.v, cmd, true);

	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
	/* The controls: unbound, MMIO and a BME clear reach the device, no violation */
	ASSERT_EQ(0, tsm_dsm_host(self->e.bdf, &saw));
	EXPECT_EQ(0, tsm_region_rw(self->e.v.devfd, bar0.offset, 0));
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->e.v.devfd, bar0.offset);
	EXPECT_NE(MAP_FAILED, map);
	if (map != MAP_FAILED) {
		EXPECT_EQ(*(volatile uint32_t *)map, *(volatile uint32_t *)map);
		munmap(map, 4096);
	}
	v16 = cmd & ~PCI_COMMAND_MASTER;
	EXPECT_EQ(0, tsm_cfg_write(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &v16, 2));
	ASSERT_EQ(0, tsm_dsm_host(self->e.bdf, &now));
	EXPECT_EQ(saw.mmio + 3, now.mmio);
	EXPECT_EQ(saw.cfg_writes + 1, now.cfg_writes);
	EXPECT_EQ(saw.violations, now.violations);
	EXPECT_STREQ("CONFIG_UNLOCKED", now.tdi);
	rc = ioctl(self->e.v.devfd, VFIO_DEVICE_RESET) ? errno : 0;
	EXPECT_EQ(0, rc) TH_LOG("reset after unbind: %s", strerror(rc));
}

/* A GET_MEASUREMENTS guest request: struct tsm_cca_meas_req, or none. */
static int meas_req(int devfd, uint32_t offset, uint32_t flags, uint8_t nonce_byte,
		    void *resp, uint32_t *len, uint64_t *code)
{
	struct tsm_cca_meas_req q = { .offset = offset, .flags = flags };

	memset(q.nonce, nonce_byte, sizeof(q.nonce));
	return cca_req(devfd, TSM_CCA_GUEST_GET_MEASUREMENTS, &q, sizeof(q), resp,
		       len, code);
}

/*
 * The TDI's measurements through the RMM (VDEV_GET_MEASUREMENTS): the device's
 * signed SPDM MEASUREMENTS response; a read at offset 0 fetches it with the
 * guest's nonce, later offsets read that copy; the VDEV's state is unchanged.
 * The model's first GET_MEASUREMENTS fails (a knob): a clean EIO, no copy.
 */
TEST_F_TIMEOUT(cca, guest_measurements, 240)
{
	static uint8_t m[16384], tail[16384], m2[16384];
	uint32_t len, tlen, mlen;
	uint64_t code;
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, connect_rmm(&self->e, "error@vdev_get_measurements:1=device"));
	ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	/* Nothing fetched yet: no copy to read from */
	len = sizeof(m);
	EXPECT_EQ(-ENODATA, meas_req(self->e.v.devfd, 8, 0, 1, m, &len, &code));
	/* The RMM's failure, then still no copy; the VDEV stays LOCKED */
	len = sizeof(m);
	EXPECT_EQ(-EIO, meas_req(self->e.v.devfd, 0, 0, 1, m, &len, &code));
	EXPECT_DSM("CONFIG_LOCKED");
	len = sizeof(m);
	EXPECT_EQ(-ENODATA, meas_req(self->e.v.devfd, 8, 0, 1, m, &len, &code));

	len = sizeof(m);
	rc = meas_req(self->e.v.devfd, 0, 0, 1, m, &len, &code);
	ASSERT_EQ(0, rc) TH_LOG("measurements: %s", strerror(-rc));
	mlen = len;
	/* An SPDM MEASUREMENTS response (code 0x60) with at least one block */
	ASSERT_LT(8U, mlen);
	EXPECT_EQ(0x60, m[1]);
	EXPECT_LT(0, m[4]);
	EXPECT_EQ((uint64_t)TSM_CCA_VDEV_LOCKED, code);
	EXPECT_DSM("CONFIG_LOCKED");
	/* In pieces, from the copy: the tail, the empty end, past the end */
	tlen = sizeof(tail);
	ASSERT_EQ(0, meas_req(self->e.v.devfd, 4, 0, 1, tail, &tlen, &code));
	EXPECT_EQ(mlen - 4, tlen);
	EXPECT_EQ(0, memcmp(m + 4, tail, tlen));
	tlen = sizeof(tail);
	EXPECT_EQ(0, meas_req(self->e.v.devfd, mlen, 0, 1, tail, &tlen, &code));
	EXPECT_EQ(0U, tlen);
	tlen = sizeof(tail);
	EXPECT_EQ(-EINVAL, meas_req(self->e.v.devfd, mlen + 1, 0, 1, tail, &tlen, &code));
	/* Too small a buffer says the size */
	tlen = 4;
	EXPECT_EQ(-ENOSPC, meas_req(self->e.v.devfd, 4, 0, 1, tail, &tlen, &code));
	EXPECT_EQ(mlen - 4, tlen);
	/* Malformed payloads: unknown flags, a short request */
	tlen = sizeof(tail);
	EXPECT_EQ(-EINVAL, meas_req(self->e.v.devfd, 0, 2, 1, tail, &tlen, &code));
	tlen = sizeof(tail);
	EXPECT_EQ(-EINVAL, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_MEASUREMENTS, m,
				   8, tail, &tlen, &code));
	/* A fetch with another nonce is signed anew; no payload is a fetch too */
	len = sizeof(m2);
	ASSERT_EQ(0, meas_req(self->e.v.devfd, 0, 0, 2, m2, &len, &code));
	EXPECT_FALSE(len == mlen && !memcmp(m, m2, mlen));
	len = sizeof(m2);
	EXPECT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_MEASUREMENTS, NULL, 0,
			     m2, &len, &code));
	len = sizeof(m2);
	rc = meas_req(self->e.v.devfd, 0, TSM_CCA_MEAS_RAW, 3, m2, &len, &code);
	EXPECT_EQ(0, rc) TH_LOG("raw measurements: %s", strerror(-rc));
	EXPECT_TRUE(tsm_file_has(RMM_LOG, "GET_MEASUREMENTS (raw bitstream)"))
		TH_LOG("the raw flag did not reach the model");

	/* Started, the same; the copy goes with the binding */
	len = 0;
	ASSERT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_START, NULL, 0, m2, &len,
			     &code));
	len = sizeof(m2);
	EXPECT_EQ(0, meas_req(self->e.v.devfd, 0, 0, 4, m2, &len, &code));
	EXPECT_EQ((uint64_t)TSM_CCA_VDEV_STARTED, code);
	EXPECT_DSM("RUN");
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	len = sizeof(m2);
	EXPECT_EQ(-ENODATA, meas_req(self->e.v.devfd, 4, 0, 1, m2, &len, &code));
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
}

static void on_tick(int sig)
{
	(void)sig;
}

/*
 * Signals during connect, bind and guest requests (a VMM's 1 ms timer, a
 * handler, no SA_RESTART). A connect either completes or ends with EINTR, and
 * an interrupted one leaves nothing: not connected, the TDI unlocked, nothing
 * leaked, and the connect succeeds without signals. A bind or a guest request
 * is not cut short at all: its device messages are secured SPDM the RMM has
 * already sealed, and withdrawing one would lose the session (the backend's
 * tdi.rs); each completes, and the device stays in step with the RMM.
 */
TEST_F_TIMEOUT(cca, signals_during_connect_bind, 400)
{
	struct sigaction sa = { .sa_handler = on_tick };
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = {};
	int rc, i, eintr = 0;
	char c[64];

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, connect_rmm(&self->e, ""));
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &every_ms, NULL));
		rc = tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm);
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
		ASSERT_TRUE(rc == 0 || rc == -EINTR) TH_LOG("connect: %s", strerror(-rc));
		if (rc == 0) {
			EXPECT_SPDM("established");
			ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect",
						    self->e.tsm));
			continue;
		}
		eintr++;
		EXPECT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect", c, sizeof(c)));
		EXPECT_STREQ("", c);
		EXPECT_DSM("CONFIG_UNLOCKED");
		EXPECT_EQ(self->e.leaks, tsm_klog_count("leaked"));
	}
	/* A connect is many DOE exchanges through the model: the ticks reach it */
	EXPECT_LT(0, eintr) TH_LOG("no connect was interrupted");
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_SPDM("established");

	for (i = 0; i < 3; i++) {
		uint8_t rep[8192];
		uint32_t len = sizeof(rep);
		uint64_t code;

		ASSERT_EQ(0, setitimer(ITIMER_REAL, &every_ms, NULL));
		rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
		EXPECT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
		EXPECT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_GET_REPORT, NULL, 0,
				     rep, &len, &code));
		len = 0;
		EXPECT_EQ(0, cca_req(self->e.v.devfd, TSM_CCA_GUEST_START, NULL, 0, rep,
				     &len, &code));
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
		EXPECT_DSM("RUN");
		EXPECT_SPDM("established");
		ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
		EXPECT_EQ(0, tsm_bound(self->e.bdf));
		EXPECT_DSM("CONFIG_UNLOCKED");
		EXPECT_EQ(self->e.leaks, tsm_klog_count("leaked"));
	}
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
}

/* IOMMU_VDEVICE_TSM_OP bind and unbind through the RMM; close while bound. */
TEST_F_TIMEOUT(cca, iommufd_bind_unbind_close, 240)
{
	if (!TSM_HAVE_VIOMMU)
		SKIP(return, "needs an iommufd vIOMMU (arm64 guest)");
	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, connect_rmm(&self->e, ""));
	ASSERT_EQ(0, tsm_iommufd_op(self->e.v.iommufd, IOMMU_VDEVICE_TSM_BIND,
				    self->e.v.vdevice_id));
	EXPECT_EQ(1, tsm_bound(self->e.bdf));
	EXPECT_DSM("CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_iommufd_op(self->e.v.iommufd, IOMMU_VDEVICE_TSM_UNBIND,
				    self->e.v.vdevice_id));
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM("CONFIG_UNLOCKED");
	/* Closing a bound device unbinds before it is disabled */
	ASSERT_EQ(0, tsm_iommufd_op(self->e.v.iommufd, IOMMU_VDEVICE_TSM_BIND,
				    self->e.v.vdevice_id));
	ASSERT_EQ(0, tsm_kvm_vfio_del(self->e.v.kvmdev, self->e.v.devfd));
	close(self->e.v.devfd);
	self->e.v.devfd = -1;
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM("CONFIG_UNLOCKED");
	/* Disconnect while connected-unbound leaves the device clean */
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
}

/*
 * The model's fault knobs: each one, at a call connect, bind, unbind or
 * disconnect makes. The step it hits fails with the errno named (0: the backend
 * recovers, as from BUSY, a donation in parts or a teardown step tried again),
 * and afterwards the kernel and the device are clean: not connected (or not
 * bound), no SPDM session (or TDI unlocked), no granule leaked, and the device
 * connects again.
 */
FIXTURE(cca_knob) {
	struct cca_env e;
};

FIXTURE_SETUP(cca_knob)
{
	self->e.rmm = 0;
	self->e.bdf[0] = '\0';
	tsm_vmm_init(&self->e.v);
	NEEDS_ARM64();
	ASSERT_EQ(0, env_setup(&self->e));
}

FIXTURE_TEARDOWN(cca_knob)
{
	env_teardown(&self->e);
}

FIXTURE_VARIANT(cca_knob) {
	const char *knobs;
	int connect_errno;
	int bind_errno;
	/*
	 * A knob at unbind that the backend cannot undo there: the RMM keeps the
	 * VDEV, the device's TDI is in this state after the unbind (NULL:
	 * CONFIG_UNLOCKED), and the backend unbinds it again at the next bind
	 * (with .rebind) or at disconnect.
	 */
	const char *after_unbind;
	int rebind;
	/*
	 * A knob in a guest request: bound, the test asks for the report and
	 * then STARTs, and the request of op @guest_op fails with @guest_errno
	 * (0: succeeds) leaving the TDI CONFIG_LOCKED, then succeeds when
	 * asked again. Without @guest_op no guest request is made (the knobs'
	 * call counts are those of bind and unbind alone).
	 */
	uint32_t guest_op;
	int guest_errno;
	/*
	 * The RMM keeps objects for good: the backend leaks this many granules
	 * or objects ("leaked" in the kernel log) instead of reusing them, and
	 * still reports the device disconnected (counted at the failed connect
	 * with @connect_errno, else at disconnect).
	 */
	int leaked;
	/*
	 * The RMM keeps the device's PDEVs at disconnect (a VDEV it never
	 * destroyed holds them): the kernel reports the device disconnected, but
	 * the device keeps the RMM's SPDM session until the next connect.
	 */
	int stuck;
};

FIXTURE_VARIANT_ADD(cca_knob, none) { .knobs = "" };
FIXTURE_VARIANT_ADD(cca_knob, busy_delegate) {
	.knobs = "busy@granule_delegate:1",
};
FIXTURE_VARIANT_ADD(cca_knob, busy_communicate) {
	.knobs = "busy@pdev_communicate:3",
};
FIXTURE_VARIANT_ADD(cca_knob, donate_in_parts) {
	.knobs = "donate@pdev_create:2=3",
};
FIXTURE_VARIANT_ADD(cca_knob, error_rp_create) {
	.knobs = "error@pdev_create:1=input", .connect_errno = EINVAL,
};
FIXTURE_VARIANT_ADD(cca_knob, error_ep_create) {
	.knobs = "error@pdev_create:2=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_donate) {
	.knobs = "error@op_mem_donate:1=input", .connect_errno = EINVAL,
};
/* The endpoint's PDEV_CREATE, its granules in: the backend cancels it */
FIXTURE_VARIANT_ADD(cca_knob, error_op_continue) {
	.knobs = "error@op_continue:1=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_op_cancel) {
	.knobs = "error@op_mem_donate:1=input,error@op_cancel:1=device",
	.connect_errno = EINVAL,
};
FIXTURE_VARIANT_ADD(cca_knob, error_op_cancel_twice) {
	/* The create the RMM does not cancel keeps its granules, leaked */
	.knobs = "error@op_mem_donate:1=input,error@op_cancel:1=device,"
		 "error@op_cancel:2=device",
	.connect_errno = EINVAL, .leaked = 1,
};
FIXTURE_VARIANT_ADD(cca_knob, error_set_pubkey) {
	.knobs = "error@pdev_set_pubkey:1=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_communicate) {
	.knobs = "error@pdev_communicate:5=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, hang_connect) {
	.knobs = "hang@pdev_communicate:4", .connect_errno = ETIMEDOUT,
};
/* The abort after the timeout fails: teardown's own PDEV_ABORTs end the hang */
FIXTURE_VARIANT_ADD(cca_knob, error_pdev_abort) {
	.knobs = "hang@pdev_communicate:4,error@pdev_abort:1=device",
	.connect_errno = ETIMEDOUT,
};
/* The state read after the root port's first operation */
FIXTURE_VARIANT_ADD(cca_knob, error_pdev_get_state) {
	.knobs = "error@pdev_get_state:1=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_stream_connect) {
	.knobs = "error@pdev_stream_connect:1=input", .connect_errno = EINVAL,
};
FIXTURE_VARIANT_ADD(cca_knob, error_stream_complete) {
	.knobs = "error@pdev_stream_complete:1=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_realm_create) {
	/* The stand-in Realm of the VM's first bind */
	.knobs = "error@realm_create:1=input", .bind_errno = EINVAL,
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_create) {
	.knobs = "error@vdev_create:1=input", .bind_errno = EINVAL,
};
/* The VDEV's state read in bind */
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_get_state) {
	.knobs = "error@vdev_get_state:1=device", .bind_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_lock) {
	.knobs = "error@vdev_lock:1=device", .bind_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, hang_vdev_lock) {
	.knobs = "hang@vdev_communicate:2", .bind_errno = ETIMEDOUT,
};
/* The abort after the timeout fails: the undoing's unlock aborts again */
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_abort) {
	.knobs = "hang@vdev_communicate:2,error@vdev_abort:1=device",
	.bind_errno = ETIMEDOUT,
};
FIXTURE_VARIANT_ADD(cca_knob, error_report) {
	.knobs = "error@vdev_get_interface_report:1=device", .bind_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, busy_vdev_communicate) {
	.knobs = "busy@vdev_communicate:2",
};
/* At unbind: each failed step is tried again, at once or later */
FIXTURE_VARIANT_ADD(cca_knob, busy_vdev_unlock) {
	.knobs = "busy@vdev_unlock:1",
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_unlock) {
	.knobs = "error@vdev_unlock:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_unlock_twice) {
	.knobs = "error@vdev_unlock:1=device,error@vdev_unlock:2=device",
	.after_unbind = "CONFIG_LOCKED", .rebind = 1,
};
/*
 * The unlock's communication never ends (bind made 8 VDEV_COMMUNICATE calls:
 * create 1, lock 4, report 3): the relay loop's bounds end it, VDEV_ABORT, and
 * the second try unlocks.
 */
FIXTURE_VARIANT_ADD(cca_knob, hang_vdev_unlock) {
	.knobs = "hang@vdev_communicate:9",
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_destroy) {
	.knobs = "error@vdev_destroy:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_destroy_twice) {
	.knobs = "error@vdev_destroy:1=device,error@vdev_destroy:2=device",
	.after_unbind = "CONFIG_UNLOCKED",
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_destroy_twice_rebind) {
	.knobs = "error@vdev_destroy:1=device,error@vdev_destroy:2=device",
	.after_unbind = "CONFIG_UNLOCKED", .rebind = 1,
};
FIXTURE_VARIANT_ADD(cca_knob, error_realm_destroy) {
	.knobs = "error@realm_destroy:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, error_realm_destroy_twice) {
	/* The Realm's descriptor is leaked; the next bind makes a new Realm */
	.knobs = "error@realm_destroy:1=device,error@realm_destroy:2=device",
	.leaked = 1, .rebind = 1,
};
FIXTURE_VARIANT_ADD(cca_knob, error_guest_report) {
	/* The bind's report is #1 */
	.knobs = "error@vdev_get_interface_report:2=device",
	.guest_op = TSM_CCA_GUEST_GET_REPORT, .guest_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_start) {
	.knobs = "error@vdev_start:1=device",
	.guest_op = TSM_CCA_GUEST_START, .guest_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, busy_vdev_start) {
	.knobs = "busy@vdev_start:1",
	.guest_op = TSM_CCA_GUEST_START,
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_destroy_always) {
	/*
	 * Unbind tries twice, disconnect twice more: the VDEV is leaked, and with
	 * it the PDEVs it holds (the model refuses STREAM_DISCONNECT and
	 * PDEV_STOP while a VDEV exists): 4 leaks (VDEV, 2 PDEVs, the
	 * connection). The next connect makes new PDEVs for the same device,
	 * which the model allows (unconfirmed for a real RMM).
	 */
	.knobs = "error@vdev_destroy:1=device,error@vdev_destroy:2=device,"
		 "error@vdev_destroy:3=device,error@vdev_destroy:4=device",
	.leaked = 4, .stuck = 1,
};
FIXTURE_VARIANT_ADD(cca_knob, error_undelegate) {
	/* The VDEV's granule at unbind: the VDEV is gone, its granule leaked once */
	.knobs = "error@granule_undelegate:1=input", .leaked = 1,
};
/* At disconnect */
FIXTURE_VARIANT_ADD(cca_knob, error_stream_disconnect) {
	.knobs = "error@pdev_stream_disconnect:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, busy_stream_disconnect) {
	.knobs = "busy@pdev_stream_disconnect:1",
};
FIXTURE_VARIANT_ADD(cca_knob, error_rp_stop) {
	.knobs = "error@pdev_stop:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, error_ep_stop) {
	.knobs = "error@pdev_stop:2=input",
};
FIXTURE_VARIANT_ADD(cca_knob, error_rp_destroy) {
	.knobs = "error@pdev_destroy:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, error_ep_destroy) {
	.knobs = "error@pdev_destroy:2=input",
};
FIXTURE_VARIANT_ADD(cca_knob, error_reclaim) {
	/* The endpoint's donated granules, given back at its PDEV_DESTROY */
	.knobs = "donate@pdev_create:2=3,error@op_mem_reclaim:1=device",
};
FIXTURE_VARIANT_ADD(cca_knob, error_reclaim_twice) {
	.knobs = "donate@pdev_create:2=3,error@op_mem_reclaim:1=device,"
		 "error@op_mem_reclaim:2=device",
	/*
	 * The endpoint's PDEV, half destroyed, is leaked with its granules (the
	 * backend's line), and the disconnect says so (the PCI/TSM layer's)
	 */
	.leaked = 2,
};
FIXTURE_VARIANT_ADD(cca_knob, busy_undelegate) {
	.knobs = "busy@granule_undelegate:1",
};

/*
 * The first of the comma-separated @knobs (KIND@CALL:N[=VALUE]) whose firing
 * the model did not log ("fired at CALL #N"), copied to @buf; NULL if all did.
 */
static const char *knob_not_fired(const char *knobs, char *buf, size_t size)
{
	char list[256], want[96], *save, *k, *at, *colon, *eq;

	snprintf(list, sizeof(list), "%s", knobs);
	for (k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		at = strchr(k, '@');
		colon = at ? strchr(at, ':') : NULL;
		if (!colon) {
			snprintf(buf, size, "%s (no @CALL:N)", k);
			return buf;
		}
		eq = strchr(colon, '=');
		if (eq)
			*eq = '\0';
		*colon = '\0';
		snprintf(want, sizeof(want), "fired at %s #%s", at + 1, colon + 1);
		if (!tsm_file_has(RMM_LOG, want)) {
			snprintf(buf, size, "%s", want);
			return buf;
		}
	}
	return NULL;
}

/*
 * The guest requests of a knob in one (FIXTURE_VARIANT(cca_knob).guest_op):
 * the report, then START; the one the knob hits fails cleanly first.
 */
static void guest_requests(struct __test_metadata *_metadata,
			   FIXTURE_DATA(cca_knob) *self,
			   const FIXTURE_VARIANT(cca_knob) *variant)
{
	static const uint32_t ops[] = { TSM_CCA_GUEST_GET_REPORT, TSM_CCA_GUEST_START };
	uint8_t rep[8192];
	uint64_t code;
	uint32_t len;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i] == variant->guest_op && variant->guest_errno) {
			len = sizeof(rep);
			rc = cca_req(self->e.v.devfd, ops[i], NULL, 0, rep, &len, &code);
			EXPECT_EQ(-variant->guest_errno, rc)
				TH_LOG("op %u: %s", ops[i], strerror(-rc));
			EXPECT_EQ((uint64_t)TSM_CCA_VDEV_LOCKED, code);
			EXPECT_EQ(1, tsm_bound(self->e.bdf));
			EXPECT_DSM("CONFIG_LOCKED");
		}
		len = sizeof(rep);
		rc = cca_req(self->e.v.devfd, ops[i], NULL, 0, rep, &len, &code);
		ASSERT_EQ(0, rc) TH_LOG("op %u: %s", ops[i], strerror(-rc));
		if (ops[i] == TSM_CCA_GUEST_GET_REPORT)
			EXPECT_LT(16U, len);
	}
	EXPECT_EQ((uint64_t)TSM_CCA_VDEV_STARTED, code);
	EXPECT_DSM("RUN");
}

TEST_F_TIMEOUT(cca_knob, lifecycle, 240)
{
	char missed[96] = "";
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	rc = connect_rmm(&self->e, variant->knobs);
	ASSERT_EQ(-variant->connect_errno, rc) TH_LOG("connect: %s", strerror(-rc));
	if (variant->connect_errno) {
		self->e.leaks += variant->leaked;
		EXPECT_DISCONNECTED();
		/* The knob fired once: the next connect succeeds */
		ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	}
	EXPECT_SPDM("established");
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(-variant->bind_errno, rc) TH_LOG("bind: %s", strerror(-rc));
	if (variant->bind_errno) {
		EXPECT_EQ(0, tsm_bound(self->e.bdf));
		EXPECT_DSM("CONFIG_UNLOCKED");
		ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	}
	EXPECT_EQ(1, tsm_bound(self->e.bdf));
	EXPECT_DSM("CONFIG_LOCKED");
	if (variant->guest_op)
		guest_requests(_metadata, self, variant);
	/* An unbind ends the binding whatever the RMM said */
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM(variant->after_unbind ? variant->after_unbind : "CONFIG_UNLOCKED");
	if (variant->rebind) {
		/* The VDEV left behind is unbound first: the TDI binds again */
		rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
		ASSERT_EQ(0, rc) TH_LOG("bind after the failed unbind: %s", strerror(-rc));
		EXPECT_DSM("CONFIG_LOCKED");
		ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
		EXPECT_DSM("CONFIG_UNLOCKED");
	}
	/* Disconnect undoes everything left, nothing leaked unless the RMM kept it */
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	if (!variant->connect_errno)
		self->e.leaks += variant->leaked;
	EXPECT_DISCONNECTED_SPDM(variant->stuck ? "established" : "none");
	/* And the RMM is left able to connect the device again */
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_SPDM("established");
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
	/* Each knob reached its call, so the variant tested what it says */
	EXPECT_EQ(NULL, knob_not_fired(variant->knobs, missed, sizeof(missed)))
		TH_LOG("the model never fired '%s'", missed);
}

/*
 * The emulated device's misbehaviour (the harness's fault devices, roles as in
 * tsm_connect's dsm_fault): through the RMM each ends in a clean errno and a
 * torn-down state, the model survives it, and the good test device still
 * connects through the same model afterwards.
 */
FIXTURE(cca_dsm_fault) {
	struct cca_env e;
	char good[32];
};

FIXTURE_VARIANT(cca_dsm_fault) {
	const char *role;
	int connect_errno;	/* 0: connects */
	int bind_errno;		/* after a connect: 0 binds */
	int run_ends_in_error;	/* START succeeds, then the TDI is in ERROR */
	/*
	 * The device's SPDM state after a failed connect (NULL: "none"). A
	 * handshake that failed after KEY_EXCHANGE stays half-open on the
	 * device: PDEV_STOP of the model ends only an established session, and
	 * the next GET_VERSION discards it (asserted below: the same device
	 * fails the same way again).
	 */
	const char *spdm_after;
};

FIXTURE_VARIANT_ADD(cca_dsm_fault, bad_signature) {
	.role = "bad-signature", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_dsm_fault, wrong_transcript) {
	.role = "wrong-transcript", .connect_errno = EIO,
	.spdm_after = "handshake",
};
FIXTURE_VARIANT_ADD(cca_dsm_fault, truncate_key_exchange) {
	.role = "truncate-key-exchange", .connect_errno = EIO,
	.spdm_after = "handshake",
};
FIXTURE_VARIANT_ADD(cca_dsm_fault, oversize_certificate) {
	.role = "oversize-certificate", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_dsm_fault, tdisp_error_lock) {
	.role = "tdisp-error-lock", .bind_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_dsm_fault, error_after_start) {
	.role = "error-after-start", .run_ends_in_error = 1,
};

FIXTURE_SETUP(cca_dsm_fault)
{
	self->e.rmm = 0;
	self->e.bdf[0] = '\0';
	tsm_vmm_init(&self->e.v);
	NEEDS_ARM64();
	ASSERT_EQ(0, env_setup(&self->e));
	memcpy(self->good, self->e.bdf, sizeof(self->good));
	ASSERT_EQ(0, tsm_find_device(variant->role, self->e.bdf,
				     sizeof(self->e.bdf)));
	tsm_disconnect_any(self->e.bdf);
}

FIXTURE_TEARDOWN(cca_dsm_fault)
{
	tsm_disconnect_any(self->good);
	env_teardown(&self->e);
}

TEST_F_TIMEOUT(cca_dsm_fault, clean_failure, 240)
{
	uint8_t b[64];
	uint32_t len;
	uint64_t code;
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	rc = connect_rmm(&self->e, "");
	if (variant->connect_errno) {
		ASSERT_EQ(-variant->connect_errno, rc)
			TH_LOG("connect: %s", strerror(-rc));
		EXPECT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect",
					   (char *)b, sizeof(b)));
		EXPECT_STREQ("", (char *)b);
		EXPECT_SPDM(variant->spdm_after ? variant->spdm_after : "none");
		EXPECT_DSM("CONFIG_UNLOCKED");
		EXPECT_EQ(self->e.leaks, tsm_klog_count("leaked"));
		/* And again, the same way: nothing was left that changes it */
		EXPECT_EQ(-variant->connect_errno,
			  tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
		EXPECT_EQ(self->e.leaks, tsm_klog_count("leaked"));
		goto good_device;
	}
	ASSERT_EQ(0, rc) TH_LOG("connect: %s", strerror(-rc));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	if (variant->bind_errno) {
		ASSERT_EQ(-variant->bind_errno, rc) TH_LOG("bind: %s", strerror(-rc));
		EXPECT_EQ(0, tsm_bound(self->e.bdf));
		EXPECT_DSM("CONFIG_UNLOCKED");
	} else {
		ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
		EXPECT_DSM("CONFIG_LOCKED");
		len = 0;
		rc = cca_req(self->e.v.devfd, TSM_CCA_GUEST_START, NULL, 0, b,
			     &len, &code);
		EXPECT_EQ(0, rc) TH_LOG("start: %s", strerror(-rc));
		EXPECT_DSM(variant->run_ends_in_error ? "ERROR" : "RUN");
		/* Unlock brings even an ERROR TDI back to CONFIG_UNLOCKED */
		EXPECT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
		EXPECT_EQ(0, tsm_bound(self->e.bdf));
		EXPECT_DSM("CONFIG_UNLOCKED");
	}
	EXPECT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
good_device:
	/* Same model, well-behaved device: connects and disconnects */
	ASSERT_EQ(0, kill(self->e.rmm, 0));
	ASSERT_EQ(0, tsm_attr_write(self->good, "tsm/connect", self->e.tsm));
	EXPECT_EQ(0, tsm_attr_write(self->good, "tsm/disconnect", self->e.tsm));
}

TEST_HARNESS_MAIN
