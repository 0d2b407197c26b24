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
#include <sys/klog.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "tsm_vmm.h"

#define RMM_LOG		"/tmp/tsm-rmm.log"
#define VIRT_ID		0x100

/* Whether the model's log has @what. */
static int rmm_logged(const char *what)
{
	char buf[65536];
	int fd = open(RMM_LOG, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, what) != NULL;
}

/*
 * Lines of the kernel log with @what: the backend logs every granule or RMM
 * object it had to give up ("leaked"), which a correct teardown never does.
 */
static int klog_count(const char *what)
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
	self->leaks = klog_count("leaked");
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
#define EXPECT_DISCONNECTED() do {					\
		char _c[64] = "?";					\
		EXPECT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect", _c,	\
					   sizeof(_c)));		\
		EXPECT_STREQ("", _c);					\
		EXPECT_SPDM("none");					\
		EXPECT_DSM("CONFIG_UNLOCKED");				\
		EXPECT_EQ(self->e.leaks, klog_count("leaked"))		\
			TH_LOG("the backend leaked granules or RMM objects"); \
	} while (0)

/* Connect and disconnect through the RMM: the device saw the session, then none. */
TEST_F_TIMEOUT(cca, connect_disconnect, 180)
{
	char buf[64];

	ASSERT_EQ(0, connect_rmm(&self->e, ""));
	ASSERT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect", buf, sizeof(buf)));
	EXPECT_STREQ(self->e.tsm, buf);
	EXPECT_SPDM("established");
	EXPECT_TRUE(rmm_logged("RootPort"));
	EXPECT_TRUE(rmm_logged("OffChipEndpoint"));
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
	EXPECT_TRUE(rmm_logged(want)) TH_LOG("the model did not log '%s'", want);

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
 * The model's fault knobs: each one, at a call connect or bind makes. The
 * step it hits fails with the errno named (0: the backend recovers, as from
 * BUSY or a donation in parts), and afterwards the kernel and the device are
 * clean: not connected (or not bound), no SPDM session (or TDI unlocked).
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
FIXTURE_VARIANT_ADD(cca_knob, error_set_pubkey) {
	.knobs = "error@pdev_set_pubkey:1=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_communicate) {
	.knobs = "error@pdev_communicate:5=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, hang_connect) {
	.knobs = "hang@pdev_communicate:4", .connect_errno = ETIMEDOUT,
};
FIXTURE_VARIANT_ADD(cca_knob, error_stream_connect) {
	.knobs = "error@pdev_stream_connect:1=input", .connect_errno = EINVAL,
};
FIXTURE_VARIANT_ADD(cca_knob, error_stream_complete) {
	.knobs = "error@pdev_stream_complete:1=device", .connect_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_create) {
	.knobs = "error@vdev_create:1=input", .bind_errno = EINVAL,
};
FIXTURE_VARIANT_ADD(cca_knob, error_vdev_lock) {
	.knobs = "error@vdev_lock:1=device", .bind_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, hang_vdev_lock) {
	.knobs = "hang@vdev_communicate:2", .bind_errno = ETIMEDOUT,
};
FIXTURE_VARIANT_ADD(cca_knob, error_report) {
	.knobs = "error@vdev_get_interface_report:1=device", .bind_errno = EIO,
};
FIXTURE_VARIANT_ADD(cca_knob, busy_vdev_communicate) {
	.knobs = "busy@vdev_communicate:2",
};

TEST_F_TIMEOUT(cca_knob, lifecycle, 240)
{
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	rc = connect_rmm(&self->e, variant->knobs);
	ASSERT_EQ(-variant->connect_errno, rc) TH_LOG("connect: %s", strerror(-rc));
	if (variant->connect_errno) {
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
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_DSM("CONFIG_UNLOCKED");
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED();
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
		EXPECT_EQ(self->e.leaks, klog_count("leaked"));
		/* And again, the same way: nothing was left that changes it */
		EXPECT_EQ(-variant->connect_errno,
			  tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
		EXPECT_EQ(self->e.leaks, klog_count("leaked"));
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
