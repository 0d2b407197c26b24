// SPDX-License-Identifier: GPL-2.0-only
/*
 * The AMD SEV-TIO host backend (drivers/virt/coco/sev-tio-host,
 * sev_tio_host.ko) against the PSP model tsm-psp, through the firmware
 * conduit (/dev/tsm_psp): tsm/connect and disconnect (platform init, the
 * device context, DEV_CONNECT with SPDM run by the PSP against tsm-dsm over
 * the kernel's DOE relay, the device teardown order), and the PSP model's
 * status knobs at each of those commands, after each of which the device and
 * the kernel must be in a clean, asserted state.
 *
 * Each test starts its own tsm-psp (its knobs on its command line) and ends
 * with the model stopped and the module unloaded, so the other selftests see
 * only their TSM. x86_64 only: the backend is an x86_64 driver.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "tsm_vmm.h"

#define PSP_LOG		"/tmp/tsm-psp.log"

#if defined(__x86_64__)
#define NEEDS_X86() do { } while (0)
#else
#define NEEDS_X86() SKIP(return, "the SEV-TIO host backend is an x86_64 driver")
#endif

/* What a test of either fixture holds. */
struct sev_env {
	int leaks;
	char bdf[32];
	char tsm[32];
	pid_t psp;
};

/* The module (against the model), the test device disconnected, the TSM's name. */
static int env_setup(struct sev_env *e)
{
	int rc = tsm_backend_insmod(TSM_SEV_MOD, TSM_SEV_KO, "psp_model=1");

	if (!rc)
		rc = tsm_find_backend_tsm(TSM_SEV_MOD, e->tsm, sizeof(e->tsm));
	if (!rc)
		rc = tsm_find_test_device(e->bdf, sizeof(e->bdf));
	if (!rc)
		tsm_disconnect_any(e->bdf);
	e->leaks = tsm_klog_count("leaked");
	return rc;
}

static void env_teardown(struct sev_env *e)
{
	if (e->bdf[0])
		tsm_disconnect_any(e->bdf);
	if (e->psp > 0) {
		kill(e->psp, SIGTERM);
		waitpid(e->psp, NULL, 0);
	}
	/* The other selftests find the first TSM: this one must go. */
	if (system("! grep -q '^" TSM_SEV_MOD " ' /proc/modules || rmmod " TSM_SEV_MOD))
		fprintf(stderr, "# rmmod " TSM_SEV_MOD " failed\n");
}

/* Starts tsm-psp with @knobs and connects through it: 0 or -errno. */
static int connect_psp(struct sev_env *e, const char *knobs)
{
	e->psp = tsm_psp_start(PSP_LOG, knobs);
	if (e->psp <= 0)
		return -ECHILD;
	/* ENODEV until the model holds /dev/tsm_psp */
	return tsm_connect_wait(e->bdf, e->tsm);
}

/* The SPDM state tsm-dsm reports is @want ("established", "none"). */
#define EXPECT_SPDM(e, want) do {					\
		struct tsm_dsm_host _h;					\
		EXPECT_EQ(0, tsm_dsm_host((e)->bdf, &_h));		\
		EXPECT_STREQ(want, _h.spdm);				\
	} while (0)

#define EXPECT_CONNECTED(e) do {					\
		char _c[64] = "";					\
		EXPECT_EQ(0, tsm_attr_read((e)->bdf, "tsm/connect", _c,	\
					   sizeof(_c)));		\
		EXPECT_STREQ((e)->tsm, _c);				\
		EXPECT_SPDM(e, "established");				\
	} while (0)

/*
 * The kernel reports the device disconnected, the device has no session and
 * an unlocked TDI, and the backend gave up no page the PSP kept.
 */
#define EXPECT_DISCONNECTED(e) do {					\
		char _c[64] = "?", _st[64] = "";			\
		EXPECT_EQ(0, tsm_attr_read((e)->bdf, "tsm/connect", _c,	\
					   sizeof(_c)));		\
		EXPECT_STREQ("", _c);					\
		EXPECT_SPDM(e, "none");					\
		EXPECT_EQ(0, tsm_dsm_tdi_state((e)->bdf, _st, sizeof(_st))); \
		EXPECT_STREQ("CONFIG_UNLOCKED", _st);			\
		EXPECT_EQ((e)->leaks, tsm_klog_count("leaked"))		\
			TH_LOG("the backend leaked PSP pages");		\
	} while (0)

FIXTURE(sev) {
	struct sev_env e;
};

FIXTURE_SETUP(sev)
{
	memset(&self->e, 0, sizeof(self->e));
	NEEDS_X86();
	ASSERT_EQ(0, env_setup(&self->e));
}

FIXTURE_TEARDOWN(sev)
{
	env_teardown(&self->e);
}

/*
 * Connect and disconnect through the PSP: the device saw the session, then
 * none; the PSP model served platform init, DEV_CREATE, DEV_CONNECT,
 * DEV_DISCONNECT and DEV_RECLAIM; and it all works a second time.
 */
TEST_F_TIMEOUT(sev, connect_disconnect, 180)
{
	ASSERT_EQ(0, connect_psp(&self->e, ""));
	EXPECT_CONNECTED(&self->e);
	EXPECT_EQ(-EBUSY, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
	/* And again: the teardown left the PSP and the device reusable */
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_CONNECTED(&self->e);
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/* No model: a clear ENODEV, nothing left. */
TEST_F(sev, connect_without_model)
{
	EXPECT_EQ(-ENODEV, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/*
 * The model gone while connected: disconnect still ends the kernel's
 * connection (the teardown's commands fail with ENODEV, the device keeps the
 * session the PSP can no longer end, and the pages the PSP held are leaked,
 * never reused); a new model connects the device again.
 */
TEST_F_TIMEOUT(sev, model_gone_while_connected, 180)
{
	char c[64] = "?";

	ASSERT_EQ(0, connect_psp(&self->e, ""));
	EXPECT_CONNECTED(&self->e);
	kill(self->e.psp, SIGTERM);
	waitpid(self->e.psp, NULL, 0);
	self->e.psp = 0;
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_EQ(0, tsm_attr_read(self->e.bdf, "tsm/connect", c, sizeof(c)));
	EXPECT_STREQ("", c);
	EXPECT_LT(self->e.leaks, tsm_klog_count("leaked"));
	self->e.leaks = tsm_klog_count("leaked");
	ASSERT_EQ(0, connect_psp(&self->e, ""));
	EXPECT_CONNECTED(&self->e);
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/*
 * Each PSP status knob at a connect or disconnect command: @connect_rc is what
 * tsm/connect answers (0: the backend handled the status and connected), and
 * after the test's disconnect the device is clean; then a connect with the
 * same model succeeds (each knob fires once).
 */
FIXTURE(sev_knob) {
	struct sev_env e;
};

FIXTURE_SETUP(sev_knob)
{
	memset(&self->e, 0, sizeof(self->e));
	NEEDS_X86();
	ASSERT_EQ(0, env_setup(&self->e));
}

FIXTURE_TEARDOWN(sev_knob)
{
	env_teardown(&self->e);
}

FIXTURE_VARIANT(sev_knob) {
	const char *knobs;
	int connect_rc;
	/* What the kernel log must have gained ("" for nothing). */
	const char *klog;
};

/* TIO_STATUS refused: platform init fails, nothing is created. */
FIXTURE_VARIANT_ADD(sev_knob, error_tio_status) {
	.knobs = "error@tio_status",
	.connect_rc = -EIO,
	.klog = "TIO_STATUS failed",
};

FIXTURE_VARIANT_ADD(sev_knob, error_tio_init) {
	.knobs = "error@tio_init",
	.connect_rc = -EIO,
	.klog = "TIO_INIT failed",
};

FIXTURE_VARIANT_ADD(sev_knob, error_dev_create) {
	.knobs = "error@dev_create=invalid_param",
	.connect_rc = -EINVAL,
	.klog = "DEV_CREATE failed",
};

/* DEV_CONNECT refused at once: DEV_RECLAIM follows, no SPDM was run. */
FIXTURE_VARIANT_ADD(sev_knob, error_dev_connect) {
	.knobs = "error@dev_connect=spdm_error",
	.connect_rc = -EIO,
	.klog = "DEV_CONNECT failed",
};

/* Refused at a re-issue, mid-SPDM: the half-made session goes with DEV_RECLAIM. */
FIXTURE_VARIANT_ADD(sev_knob, error_dev_connect_mid_spdm) {
	.knobs = "error@dev_connect:4=invalid_dev_state",
	.connect_rc = -EPROTO,
	.klog = "DEV_CONNECT failed",
};

/* EXPAND: one grown output buffer and a retry; the connect succeeds. */
FIXTURE_VARIANT_ADD(sev_knob, expand_dev_connect) {
	.knobs = "expand@dev_connect",
	.connect_rc = 0,
	.klog = "",
};

/* A second EXPAND in one command: the host does not grow twice. */
FIXTURE_VARIANT_ADD(sev_knob, expand_twice_dev_connect) {
	.knobs = "expand@dev_connect:1=0x3000,expand@dev_connect:2=0x8000",
	.connect_rc = -ENOSPC,
	.klog = "DEV_CONNECT failed",
};

/* A refused DEV_DISCONNECT is retried forced. */
FIXTURE_VARIANT_ADD(sev_knob, error_dev_disconnect) {
	.knobs = "error@dev_disconnect",
	.connect_rc = 0,
	.klog = "DevDisconnect { force: false } failed",
};

TEST_F_TIMEOUT(sev_knob, connect_disconnect, 180)
{
	int before = variant->klog[0] ? tsm_klog_count(variant->klog) : 0;
	int rc;

	rc = connect_psp(&self->e, variant->knobs);
	ASSERT_EQ(variant->connect_rc, rc) TH_LOG("connect: %s", strerror(-rc));
	if (!rc) {
		EXPECT_CONNECTED(&self->e);
		ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	}
	EXPECT_DISCONNECTED(&self->e);
	if (variant->klog[0])
		EXPECT_LT(before, tsm_klog_count(variant->klog))
			TH_LOG("the kernel did not log '%s'", variant->klog);
	/* The knob fired once: the same model connects the device now */
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/connect", self->e.tsm));
	EXPECT_CONNECTED(&self->e);
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/*
 * Without the model the backend needs the real PSP's conduit, which is not
 * written: the module refuses to load (ENODEV) and registers no TSM.
 */
TEST(no_real_psp_conduit)
{
	char path[512], tsm[32];
	struct utsname u;
	int fd, rc;

	NEEDS_X86();
	ASSERT_EQ(0, system("! grep -q '^" TSM_SEV_MOD " ' /proc/modules || rmmod " TSM_SEV_MOD));
	ASSERT_EQ(0, uname(&u));
	snprintf(path, sizeof(path), "/lib/modules/%s/%s", u.release, TSM_SEV_KO);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	rc = syscall(__NR_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	EXPECT_EQ(-ENODEV, rc);
	EXPECT_EQ(-ENOENT, tsm_find_backend_tsm(TSM_SEV_MOD, tsm, sizeof(tsm)));
	if (!rc)
		EXPECT_EQ(0, system("rmmod " TSM_SEV_MOD));
}

TEST_HARNESS_MAIN
