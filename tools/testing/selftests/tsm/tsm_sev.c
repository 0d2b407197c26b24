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
#include "tsm_locked.h"

#define PSP_LOG		"/tmp/tsm-psp.log"
#define VIRT_ID		0x100

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
	struct tsm_vmm v;
};

/* The module (against the model), the test device disconnected, the TSM's name. */
static int env_setup(struct sev_env *e)
{
	int rc;

	tsm_vmm_init(&e->v);
	rc = tsm_insmod_once(TSM_VFIO_KO);
	if (!rc)
		rc = tsm_backend_insmod(TSM_SEV_MOD, TSM_SEV_KO, "psp_model=1");
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
	tsm_vmm_release(&e->v);
	if (e->v.vm >= 0)
		close(e->v.vm);
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

/* Opens the device as a VMM does, with a VM and a vDEVICE of VIRT_ID. */
static int assign(struct sev_env *e)
{
	int rc = tsm_bind_driver(e->bdf, TSM_VFIO_DRV);

	if (rc)
		return rc;
	e->v.vm = tsm_vm_create();
	if (e->v.vm < 0)
		return e->v.vm;
	return tsm_vmm_assign(&e->v, e->bdf, 1, VIRT_ID);
}

/* The TDI state tsm-dsm reports is @want. */
#define EXPECT_DSM(e, want) do {					\
		char _st[64] = "";					\
		EXPECT_EQ(0, tsm_dsm_tdi_state((e)->bdf, _st, sizeof(_st))); \
		EXPECT_STREQ(want, _st);				\
	} while (0)

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

/*
 * A fixture of that environment: the module loaded, the device found and
 * disconnected; the model stopped and the module unloaded after the test.
 */
#define SEV_FIXTURE(name)						\
	FIXTURE(name) {							\
		struct sev_env e;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		memset(&self->e, 0, sizeof(self->e));			\
		tsm_vmm_init(&self->e.v);				\
		NEEDS_X86();						\
		ASSERT_EQ(0, env_setup(&self->e));			\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		env_teardown(&self->e);					\
	}

SEV_FIXTURE(sev);

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
 * VFIO_DEVICE_TSM_BIND through the PSP: TDI_CREATE and TDI_BIND lock the TDI
 * on the device, the report is validated, a second bind and a reset are
 * refused and the device saw neither; unbind unlocks it, a second bind works,
 * and closing the device while bound unbinds it too; nothing is leaked.
 */
TEST_F_TIMEOUT(sev, vfio_bind_unbind, 240)
{
	struct tsm_dsm_host saw, now;
	char want[64];
	int rc;

	unsigned int dom, bus, dev, fn;
	int logged;

	/*
	 * The guest device ID is the vDEVICE's virtual ID; through the x86 seam
	 * (no vIOMMU) the TDI ID is the function's requester ID.
	 */
	ASSERT_EQ(4, sscanf(self->e.bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn));
	snprintf(want, sizeof(want), "bound with guest device ID 0x%x",
		 TSM_HAVE_VIOMMU ? VIRT_ID : (bus << 8 | dev << 3 | fn));
	logged = tsm_klog_count(want);
	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, connect_psp(&self->e, ""));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	EXPECT_EQ(1, tsm_bound(self->e.bdf));
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");
	EXPECT_EQ(logged + 1, tsm_klog_count(want)) TH_LOG("no '%s' in the log", want);

	ASSERT_EQ(0, tsm_dsm_host(self->e.bdf, &saw));
	EXPECT_EQ(-EBUSY, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	EXPECT_EQ(-1, ioctl(self->e.v.devfd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, tsm_dsm_host(self->e.bdf, &now));
	EXPECT_EQ(saw.events, now.events) TH_LOG("the device saw a refused action");
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");

	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
	ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");
	/* Closing a bound device unbinds it */
	tsm_vmm_release(&self->e.v);
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/*
 * The locked state holds with this backend too: bound through the PSP, every
 * host path to the TDI is refused and the device saw none of them
 * (tsm_locked.h; TDI_BIND's lock flags are 0, so the MSI-X table stays the
 * host's). Unbound, the TDI is unlocked and a reset works again.
 */
TEST_F_TIMEOUT(sev, locked_state_refusals, 240)
{
	uint16_t cmd;
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, tsm_cfg_read(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(0, tsm_cfg_write(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &cmd, 2));
	ASSERT_EQ(0, connect_psp(&self->e, ""));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");
	tsm_expect_locked(_metadata, self->e.bdf, &self->e.v, cmd, false);
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
}

/* A SEV guest request on the VFIO device: 0 or -errno. */
static int sev_req(int devfd, uint32_t op, const void *req, uint32_t req_len,
		   void *resp, uint32_t *resp_len, uint64_t *code)
{
	return tsm_guest_req_payload(devfd, IOMMU_VDEVICE_TSM_TVM_ARCH_SEV, op,
				     req, req_len, resp, resp_len, code);
}

/* The TDI's state as TDI_STATUS reads it through a guest request. */
static int sev_state(int devfd, uint64_t *code)
{
	uint8_t st = 0xff;
	uint32_t len = 1;
	int rc = sev_req(devfd, TSM_SEV_GUEST_GET_STATE, NULL, 0, &st, &len, code);

	return rc ? rc : (len == 1 ? st : -EPROTO);
}

/*
 * Guest requests of tvm_arch SEV through the PSP: the state (TDI_STATUS), the
 * report kept from TDI_BIND (its size when the buffer is too small, whole, a
 * tail), RUN (the device's TDI runs; a second RUN is done already), every
 * errno of the envelope, STOP (the device's TDI unlocked while the kernel's
 * binding stays, RUN refused then) and the unbind after it; tsm_code is the
 * PSP's status of the last command, or TSM_SEV_CODE_NONE.
 */
TEST_F_TIMEOUT(sev, guest_requests, 240)
{
	static uint8_t rep[8192], tail[8192];
	uint32_t len, off = 4, tlen;
	uint64_t code;
	uint16_t cmd;
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, tsm_cfg_read(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(0, tsm_cfg_write(self->e.v.devfd, self->e.v.cfg_off, PCI_COMMAND, &cmd, 2));
	ASSERT_EQ(0, connect_psp(&self->e, ""));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	code = 1;
	EXPECT_EQ(TSM_SEV_TDISP_LOCKED, sev_state(self->e.v.devfd, &code));
	EXPECT_EQ(0ULL, code);

	/* The report: too small a buffer says the size; then whole; then a tail */
	len = 4;
	EXPECT_EQ(-ENOSPC, sev_req(self->e.v.devfd, TSM_SEV_GUEST_GET_REPORT, NULL, 0,
				   rep, &len, &code));
	EXPECT_EQ(TSM_SEV_CODE_NONE, code);
	ASSERT_LT(16U, len);
	ASSERT_GE(sizeof(rep), len);
	len = sizeof(rep);
	ASSERT_EQ(0, sev_req(self->e.v.devfd, TSM_SEV_GUEST_GET_REPORT, NULL, 0, rep,
			     &len, &code));
	tlen = sizeof(tail);
	ASSERT_EQ(0, sev_req(self->e.v.devfd, TSM_SEV_GUEST_GET_REPORT, &off,
			     sizeof(off), tail, &tlen, &code));
	EXPECT_EQ(len - 4, tlen);
	EXPECT_EQ(0, memcmp(rep + 4, tail, tlen));
	/* Malformed payloads, unknown ops, another platform's requests */
	tlen = sizeof(tail);
	EXPECT_EQ(-EINVAL, sev_req(self->e.v.devfd, TSM_SEV_GUEST_GET_REPORT, &off, 2,
				   tail, &tlen, &code));
	tlen = sizeof(tail);
	EXPECT_EQ(-EINVAL, sev_req(self->e.v.devfd, TSM_SEV_GUEST_RUN, &off,
				   sizeof(off), tail, &tlen, &code));
	off = len + 1;
	tlen = sizeof(tail);
	EXPECT_EQ(-EINVAL, sev_req(self->e.v.devfd, TSM_SEV_GUEST_GET_REPORT, &off,
				   sizeof(off), tail, &tlen, &code));
	tlen = sizeof(tail);
	EXPECT_EQ(-EOPNOTSUPP, sev_req(self->e.v.devfd, 99, NULL, 0, tail, &tlen,
				       &code));
	EXPECT_EQ(TSM_SEV_CODE_NONE, code);
	tlen = sizeof(tail);
	EXPECT_EQ(-EOPNOTSUPP,
		  tsm_guest_req_payload(self->e.v.devfd, IOMMU_VDEVICE_TSM_TVM_ARCH_CCA,
					TSM_SEV_GUEST_RUN, NULL, 0, tail, &tlen, &code));
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");

	/* RUN, then RUN again (done already) */
	len = 0;
	EXPECT_EQ(0, sev_req(self->e.v.devfd, TSM_SEV_GUEST_RUN, NULL, 0, rep, &len,
			     &code));
	EXPECT_EQ(0ULL, code);
	EXPECT_DSM(&self->e, "RUN");
	EXPECT_EQ(TSM_SEV_TDISP_RUN, sev_state(self->e.v.devfd, &code));
	EXPECT_EQ(0, sev_req(self->e.v.devfd, TSM_SEV_GUEST_RUN, NULL, 0, rep, &len,
			     &code));
	EXPECT_DSM(&self->e, "RUN");
	/* The locked state holds in RUN */
	tsm_expect_locked(_metadata, self->e.bdf, &self->e.v, cmd, false);

	/* STOP: the device's TDI unlocks, the kernel's binding stays */
	EXPECT_EQ(0, sev_req(self->e.v.devfd, TSM_SEV_GUEST_STOP, NULL, 0, rep, &len,
			     &code));
	EXPECT_EQ(0ULL, code);
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
	EXPECT_EQ(1, tsm_bound(self->e.bdf));
	EXPECT_EQ(TSM_SEV_TDISP_UNLOCKED, sev_state(self->e.v.devfd, &code));
	EXPECT_EQ(-EPROTO, sev_req(self->e.v.devfd, TSM_SEV_GUEST_RUN, NULL, 0, rep,
				   &len, &code));
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
	/* And bound again: nothing of the first binding is left in the PSP */
	ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	tsm_vmm_release(&self->e.v);
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/*
 * Each PSP status knob at a bind or unbind command: @bind_rc is what the bind
 * answers; whatever failed, the TDI ends CONFIG_UNLOCKED once the device is
 * unbound or the bind failed, nothing is leaked, and a second bind with the
 * same model works.
 */
SEV_FIXTURE(sev_bind_knob);

FIXTURE_VARIANT(sev_bind_knob) {
	const char *knobs;
	int bind_rc;
	const char *klog;
};

FIXTURE_VARIANT_ADD(sev_bind_knob, error_tdi_create) {
	.knobs = "error@tdi_create=invalid_param",
	.bind_rc = -EINVAL,
	.klog = "TDI_CREATE failed",
};

/* TDI_BIND refused at once: the teardown reclaims the context. */
FIXTURE_VARIANT_ADD(sev_bind_knob, error_tdi_bind) {
	.knobs = "error@tdi_bind=in_use",
	.bind_rc = -EBUSY,
	.klog = "TDI_BIND failed",
};

/* Refused mid-TDISP (a re-issue): the teardown unbinds what may be locked. */
FIXTURE_VARIANT_ADD(sev_bind_knob, error_tdi_bind_mid_tdisp) {
	.knobs = "error@tdi_bind:3=invalid_tdi_state",
	.bind_rc = -EPROTO,
	.klog = "TDI_BIND failed",
};

/* The TDI_STATUS after the lock fails: the bind is undone. */
FIXTURE_VARIANT_ADD(sev_bind_knob, error_tdi_status) {
	.knobs = "error@tdi_status=invalid_tdi",
	.bind_rc = -EPROTO,
	.klog = "",
};

/* EXPAND at TDI_BIND: one grown output buffer; the bind succeeds. */
FIXTURE_VARIANT_ADD(sev_bind_knob, expand_tdi_bind) {
	.knobs = "expand@tdi_bind:1=0x5000",
	.bind_rc = 0,
	.klog = "",
};

/*
 * A refused TDI_UNBIND is made once more, not forced: a forced one would end
 * the binding without STOP_INTERFACE and leave the device's TDI locked.
 */
FIXTURE_VARIANT_ADD(sev_bind_knob, error_tdi_unbind) {
	.knobs = "error@tdi_unbind=spdm_error",
	.bind_rc = 0,
	.klog = "TdiUnbind { force: false } failed",
};

TEST_F_TIMEOUT(sev_bind_knob, bind_unbind, 240)
{
	int before = variant->klog[0] ? tsm_klog_count(variant->klog) : 0;
	int rc;

	ASSERT_EQ(0, assign(&self->e));
	ASSERT_EQ(0, connect_psp(&self->e, variant->knobs));
	rc = tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id);
	ASSERT_EQ(variant->bind_rc, rc) TH_LOG("bind: %s", strerror(-rc));
	if (!rc) {
		EXPECT_DSM(&self->e, "CONFIG_LOCKED");
		ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	}
	EXPECT_EQ(0, tsm_bound(self->e.bdf));
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
	if (variant->klog[0])
		EXPECT_LT(before, tsm_klog_count(variant->klog))
			TH_LOG("the kernel did not log '%s'", variant->klog);
	EXPECT_EQ(self->e.leaks, tsm_klog_count("leaked"));
	/* The knob fired once: the same model binds the device now */
	ASSERT_EQ(0, tsm_vfio_bind(self->e.v.devfd, self->e.v.vdevice_id));
	EXPECT_DSM(&self->e, "CONFIG_LOCKED");
	ASSERT_EQ(0, tsm_vfio_unbind(self->e.v.devfd));
	EXPECT_DSM(&self->e, "CONFIG_UNLOCKED");
	tsm_vmm_release(&self->e.v);
	ASSERT_EQ(0, tsm_attr_write(self->e.bdf, "tsm/disconnect", self->e.tsm));
	EXPECT_DISCONNECTED(&self->e);
}

/*
 * Each PSP status knob at a connect or disconnect command: @connect_rc is what
 * tsm/connect answers (0: the backend handled the status and connected), and
 * after the test's disconnect the device is clean; then a connect with the
 * same model succeeds (each knob fires once).
 */
SEV_FIXTURE(sev_knob);

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
