// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI/TSM link operations through the emulated platform TSM (samples/tsm,
 * tsm_emu.ko): connect and disconnect through sysfs with the software TSM
 * firmware (tsm-fw) relaying SPDM + IDE-KM over the device's real DOE mailbox
 * to the DSM emulator behind QEMU, and what happens without firmware, when the
 * firmware dies mid-connect, and over many cycles.
 *
 * Each test starts (and kills) its own tsm-fw so it controls firmware presence.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "tsm_vmm.h"

#define TSM_FW_LOG	"/tmp/tsm-fw.log"
#define TSM_EMU_TEST	"/dev/tsm_emu_test"

/* /dev/tsm_emu_test commands (samples/tsm/test_hook.rs) */
#define HOOK_BIND	1
#define HOOK_UNBIND	2
#define HOOK_GUEST_REQ	3

struct hook_cmd {
	uint32_t op;
	uint16_t segment;
	uint8_t bus;
	uint8_t devfn;
	uint32_t tdi_id;
	int32_t vm_fd;
	uint32_t req_op;
	uint32_t tvm_arch;	/* enum iommu_vdevice_tsm_guest_tvm_arch */
};

struct hook_res {
	int32_t status;
	uint32_t reserved;
	uint64_t tsm_code;
	uint32_t length;
	uint32_t reserved2;
	uint8_t data[0x4000];
};

static int hook_do(int fd, const char *bdf, uint32_t op, uint32_t tdi_id,
		   int vm_fd, uint32_t req_op, uint32_t tvm_arch)
{
	unsigned int seg, bus, dev, fn;
	struct hook_cmd c = {
		.op = op, .tdi_id = tdi_id, .vm_fd = vm_fd,
		.req_op = req_op, .tvm_arch = tvm_arch,
	};

	if (sscanf(bdf, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		return -EINVAL;
	c.segment = seg;
	c.bus = bus;
	c.devfn = dev << 3 | fn;
	if (write(fd, &c, sizeof(c)) != sizeof(c))
		return -errno;
	return 0;
}

/* A guest request of @tvm_arch, without payload. */
static int hook_req_arch(int fd, const char *bdf, uint32_t req_op,
			 uint32_t tvm_arch, struct hook_res *res)
{
	int rc = hook_do(fd, bdf, HOOK_GUEST_REQ, 0, -1, req_op, tvm_arch);

	memset(res, 0, sizeof(*res));
	if (read(fd, res, sizeof(*res)) < 24)
		return rc ? rc : -EIO;
	return rc;
}

/* A guest request of the emulated platform. */
static int hook_req(int fd, const char *bdf, uint32_t req_op,
		    struct hook_res *res)
{
	return hook_req_arch(fd, bdf, req_op, IOMMU_VDEVICE_TSM_TVM_ARCH_EMU,
			     res);
}

/* Slab memory in kB from /proc/meminfo. */
static long slab_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n;
}


/*
 * A scripted firmware: the test itself opens /dev/tsm_fw and plays tsm-fw, to
 * drive the kernel's relay loop into the cases a well-behaved firmware never
 * produces.
 */
struct fake_msg {
	struct tsm_fw_hdr hdr;
	union {
		struct tsm_fw_hello hello;
		struct tsm_fw_hello_ack ack;
		struct tsm_fw_connect connect;
		struct {
			struct tsm_fw_doe_request req;
			uint8_t payload[64];
		} doe;
		struct {
			struct tsm_fw_doe_response resp;
			uint8_t payload[4096];
		} doe_resp;
		struct {
			struct tsm_fw_complete c;
			uint8_t payload[16];
		} complete;
	};
};

static void fake_hdr(struct fake_msg *m, uint16_t type, uint32_t body, uint64_t req_id)
{
	m->hdr.magic = TSM_FW_MAGIC;
	m->hdr.version = TSM_FW_VERSION_1;
	m->hdr.type = type;
	m->hdr.length = sizeof(m->hdr) + body;
	m->hdr.flags = 0;
	m->hdr.req_id = req_id;
}

/* Opens the channel and completes the handshake; returns the fd. */
static int fake_fw_open(void)
{
	struct fake_msg m = {};
	int fd = open(TSM_FW_DEV, O_RDWR);

	if (fd < 0)
		return -errno;
	fake_hdr(&m, TSM_FW_MSG_HELLO, sizeof(m.hello), 0);
	m.hello.min_version = 1;
	m.hello.max_version = 1;
	m.hello.max_msg_size = TSM_FW_MAX_MSG_SIZE;
	if (write(fd, &m, m.hdr.length) != (ssize_t)m.hdr.length)
		goto fail;
	if (read(fd, &m, sizeof(m)) < (ssize_t)(sizeof(m.hdr) + sizeof(m.ack)) ||
	    m.hdr.type != TSM_FW_CMD_HELLO_ACK || m.ack.version != 1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -EPROTO;
}

static int fake_read(int fd, struct fake_msg *m)
{
	ssize_t n = read(fd, m, sizeof(*m));

	if (n < (ssize_t)sizeof(m->hdr))
		return n < 0 ? -errno : -EPROTO;
	return m->hdr.type;
}

static int fake_doe_request(int fd, uint64_t req_id, const struct tsm_fw_dev *dev,
			    uint32_t seq, const void *payload, uint32_t len)
{
	struct fake_msg m = {};

	fake_hdr(&m, TSM_FW_MSG_DOE_REQUEST, sizeof(m.doe.req) + len, req_id);
	m.doe.req.dev = *dev;
	m.doe.req.vendor_id = TSM_FW_DOE_VENDOR_PCI_SIG;
	m.doe.req.object_type = TSM_FW_DOE_TYPE_CMA;
	m.doe.req.seq = seq;
	m.doe.req.timeout_ms = 5000;
	m.doe.req.length = len;
	memcpy(m.doe.payload, payload, len);
	return write(fd, &m, m.hdr.length) == (ssize_t)m.hdr.length ? 0 : -errno;
}

static int fake_complete(int fd, uint64_t req_id, int32_t status, uint32_t fw_error)
{
	struct fake_msg m = {};

	fake_hdr(&m, TSM_FW_MSG_COMPLETE, sizeof(m.complete.c) + 4, req_id);
	m.complete.c.status = status;
	m.complete.c.fw_error = fw_error;
	m.complete.c.tdi_state = TSM_FW_TDI_NONE;
	m.complete.c.length = 4;
	memcpy(m.complete.payload, "test", 4);
	return write(fd, &m, m.hdr.length) == (ssize_t)m.hdr.length ? 0 : -errno;
}

/* Starts "connect" in a child; returns its pid (exit status: errno or 0). */
static pid_t connect_async(const char *bdf, const char *tsm)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(-tsm_attr_write(bdf, "tsm/connect", tsm));
	return pid;
}

static int child_errno(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

FIXTURE(tsm_link) {
	char bdf[32];
	char tsm[32];
	pid_t fw;
};

FIXTURE_SETUP(tsm_link)
{
	char buf[64];

	ASSERT_EQ(0, tsm_insmod_once(TSM_EMU_KO));
	ASSERT_EQ(0, tsm_find_test_device(self->bdf, sizeof(self->bdf)));
	ASSERT_EQ(0, tsm_find_tsm(self->tsm, sizeof(self->tsm)));
	self->fw = 0;
	/* The test hook binds only functions no driver holds */
	ASSERT_EQ(0, tsm_unbind_driver(self->bdf));
	/* Start from a disconnected device whatever an earlier test left. */
	if (!tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)) && buf[0])
		tsm_attr_write(self->bdf, "tsm/disconnect", buf);
}

FIXTURE_TEARDOWN(tsm_link)
{
	char buf[64];

	if (!tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)) && buf[0])
		tsm_attr_write(self->bdf, "tsm/disconnect", buf);
	tsm_fw_stop(self->fw, SIGTERM);
}

/*
 * Starts tsm-fw and connects the test device, makes a VM (*@vm) and opens
 * the test hook (*@hook): what a test of the caller-side API starts from.
 */
static int connect_vm_hook(struct _test_data_tsm_link *self, int *vm, int *hook)
{
	int rc;

	self->fw = tsm_fw_start(TSM_FW_LOG);
	if (self->fw <= 0)
		return -ECHILD;
	rc = tsm_connect_wait(self->bdf, self->tsm);
	if (rc)
		return rc;
	*vm = tsm_vm_create();
	if (*vm < 0)
		return *vm;
	*hook = open(TSM_EMU_TEST, O_RDWR);
	return *hook < 0 ? -errno : 0;
}

/* The shim made the device a DSM candidate and the TSM is in /sys/class/tsm. */
TEST_F(tsm_link, sysfs_attributes)
{
	char path[512], buf[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/tsm/%s", self->tsm);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/dsm", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "authenticated", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	/* Not connected: nothing to disconnect. */
	ASSERT_EQ(-ENXIO, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	/* No such TSM. */
	ASSERT_EQ(-ENXIO, tsm_attr_write(self->bdf, "tsm/connect", "tsm999"));
	ASSERT_EQ(-EINVAL, tsm_attr_write(self->bdf, "tsm/connect", "nonsense"));
}

/* A real SPDM session + IDE-KM keying through tsm-fw, QEMU's DOE and tsm-dsm. */
TEST_F_TIMEOUT(tsm_link, connect_disconnect, 120)
{
	char buf[64];

	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));

	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ(self->tsm, buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/dsm", buf, sizeof(buf)));
	ASSERT_STREQ(self->bdf, buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "authenticated", buf, sizeof(buf)));
	ASSERT_STREQ(self->tsm, buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);

	/* Connected already; a wrong TSM name does not disconnect. */
	ASSERT_EQ(-EBUSY, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	ASSERT_EQ(-EINVAL, tsm_attr_write(self->bdf, "tsm/disconnect", "tsm999"));

	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/dsm", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
}

/* No firmware: a clear ENODEV and nothing left behind. */
TEST_F(tsm_link, connect_without_firmware)
{
	char buf[64];

	ASSERT_EQ(-ENODEV, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
}

/* Only one firmware may hold the channel. */
TEST_F_TIMEOUT(tsm_link, second_firmware_refused, 120)
{
	int fd;

	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));
	fd = open(TSM_FW_DEV, O_RDWR);
	ASSERT_EQ(-1, fd);
	ASSERT_EQ(EBUSY, errno);
}

/* tsm_emu's reference count, from sysfs; -1 if unreadable. */
static int emu_refcnt(void)
{
	char buf[32];

	if (tsm_read_sysfs("/sys/module/tsm_emu/refcnt", buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

/*
 * An open /dev/tsm_fw pins tsm_emu (fops->owner): unloading the module
 * while the firmware holds the file would leave it calling freed code.
 */
TEST_F(tsm_link, firmware_file_pins_module)
{
	int before = emu_refcnt(), fd;

	ASSERT_LE(0, before);
	fd = open(TSM_FW_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(before + 1, emu_refcnt());
	close(fd);
	EXPECT_EQ(before, emu_refcnt());
}

/* Garbage from "firmware" is refused without harm. */
TEST_F(tsm_link, malformed_firmware_messages)
{
	unsigned char junk[64] = { 0x54, 0x53, 0x46, 0x57, 1, 0, 0x99, 0 };
	int fd = open(TSM_FW_DEV, O_RDWR);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(-1, write(fd, junk, 4));
	ASSERT_EQ(EINVAL, errno);
	junk[8] = sizeof(junk);
	ASSERT_EQ(-1, write(fd, junk, sizeof(junk)));
	ASSERT_EQ(EINVAL, errno);
	/* No handshake: connect still reports no firmware. */
	ASSERT_EQ(-ENODEV, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	close(fd);
}

/* The firmware dies mid-connect: a clean error, then a working connect. */
TEST_F_TIMEOUT(tsm_link, firmware_killed_mid_connect, 240)
{
	char buf[64];
	int status, rc;
	pid_t child;

	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	/* Wait for the handshake: a connect that then succeeds, undone. */
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));

	/*
	 * Stopped first, so the connect is certainly in flight (its command queued to a
	 * firmware that will never answer) when the firmware dies: no race with a fast
	 * connect, the EPIPE path is taken every time.
	 */
	ASSERT_EQ(0, kill(self->fw, SIGSTOP));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(-tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
	tsm_msleep(300);
	tsm_fw_stop(self->fw, SIGKILL);
	self->fw = 0;
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	rc = WEXITSTATUS(status);
	ASSERT_EQ(EPIPE, rc) TH_LOG("connect with the firmware killed: %s",
				    rc ? strerror(rc) : "completed");
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);

	/* A new firmware connects again from a clean state. */
	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
}

/* The firmware is gone when disconnecting: the kernel tears down anyway. */
TEST_F_TIMEOUT(tsm_link, disconnect_without_firmware, 120)
{
	char buf[64];

	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));
	tsm_fw_stop(self->fw, SIGKILL);
	self->fw = 0;
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
}

/* Repeated cycles: every one works, no fd or slab growth. */
TEST_F_TIMEOUT(tsm_link, connect_disconnect_cycles, 400)
{
	long slab0, slab1;
	int fds0, i;

	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	fds0 = count_fds();
	slab0 = slab_kb();
	ASSERT_LT(0, slab0) TH_LOG("no Slab: line in /proc/meminfo");
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/connect", self->tsm));
		ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	}
	slab1 = slab_kb();
	ASSERT_LT(0, slab1);
	ASSERT_EQ(fds0, count_fds());
	TH_LOG("slab before %ld kB, after 8 cycles %ld kB", slab0, slab1);
	/*
	 * Per-cycle slab objects left behind would add up here. A coarse check: it
	 * cannot see kmalloc_large or vmalloc (the relay's 64 KiB buffers).
	 */
	ASSERT_LT(slab1 - slab0, 256);
}

/* Without a connected DSM nothing can be bound. */
TEST_F(tsm_link, bind_needs_connect)
{
	int vm = tsm_vm_create(), hook;

	ASSERT_GE(vm, 0);
	hook = open(TSM_EMU_TEST, O_RDWR);
	ASSERT_GE(hook, 0);
	ASSERT_EQ(-EINVAL, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0));
	ASSERT_EQ(-EBADF, hook_do(hook, self->bdf, HOOK_BIND, 0x100, 0, 0, 0));
	close(hook);
	close(vm);
}

/*
 * TDISP through the backend: bind (LOCK_INTERFACE + validated report), guest
 * requests (state, report, START -> RUN), unbind (STOP).
 */
TEST_F_TIMEOUT(tsm_link, bind_guest_req_unbind, 240)
{
	struct hook_res *res = calloc(1, sizeof(*res));
	int vm, vm2, hook, rc;
	char buf[64];

	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, connect_vm_hook(self, &vm, &hook));
	vm2 = tsm_vm_create();
	ASSERT_GE(vm2, 0);

	rc = hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0);
	ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ(self->tsm, buf);
	/* Same VM again: idempotent; another VM: busy. */
	ASSERT_EQ(0, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0));
	ASSERT_EQ(-EBUSY, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm2, 0, 0));

	ASSERT_EQ(0, hook_req(hook, self->bdf, TSM_FW_GUEST_GET_STATE, res));
	ASSERT_EQ((uint64_t)TSM_FW_TDI_CONFIG_LOCKED, res->tsm_code);
	ASSERT_EQ(0, hook_req(hook, self->bdf, TSM_FW_GUEST_GET_REPORT, res));
	ASSERT_GT(res->length, 16U);
	/* Another platform's request: the emulated TSM does not serve it. */
	ASSERT_EQ(-EOPNOTSUPP, hook_req_arch(hook, self->bdf, TSM_FW_GUEST_START,
					     IOMMU_VDEVICE_TSM_TVM_ARCH_TDX,
					     res));
	ASSERT_EQ(-EOPNOTSUPP, hook_req_arch(hook, self->bdf, TSM_FW_GUEST_START,
					     0, res));
	ASSERT_EQ(0, hook_req(hook, self->bdf, TSM_FW_GUEST_START, res));
	ASSERT_EQ(0, hook_req(hook, self->bdf, TSM_FW_GUEST_GET_STATE, res));
	ASSERT_EQ((uint64_t)TSM_FW_TDI_RUN, res->tsm_code);
	/* Unknown op. */
	ASSERT_EQ(-EOPNOTSUPP, hook_req(hook, self->bdf, 99, res));

	ASSERT_EQ(0, hook_do(hook, self->bdf, HOOK_UNBIND, 0, -1, 0, 0));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	/* Not bound: guest requests have no TDI. */
	ASSERT_EQ(-ENXIO, hook_req(hook, self->bdf, TSM_FW_GUEST_GET_STATE, res));

	/* Bind again, then disconnect: the core unbinds first. */
	ASSERT_EQ(0, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm2, 0, 0));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);

	close(hook);
	close(vm);
	close(vm2);
	free(res);
}

/*
 * The test hook does not bind (or unbind, or send requests for) a function a
 * driver holds: vfio-pci-tsm keeps its own locked state, which a TDI bound
 * underneath it would bypass. Free again, the same function binds.
 */
TEST_F_TIMEOUT(tsm_link, hook_refuses_driver_held_function, 240)
{
	char buf[64];
	int vm, hook;

	ASSERT_EQ(0, connect_vm_hook(self, &vm, &hook));
	ASSERT_EQ(0, tsm_insmod_once(TSM_VFIO_KO));
	ASSERT_EQ(0, tsm_bind_driver(self->bdf, TSM_VFIO_DRV));

	EXPECT_EQ(-EBUSY, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0));
	EXPECT_EQ(-EBUSY, hook_do(hook, self->bdf, HOOK_UNBIND, 0, -1, 0, 0));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	EXPECT_EQ(0, tsm_dsm_tdi_state(self->bdf, buf, sizeof(buf)));
	EXPECT_STREQ("CONFIG_UNLOCKED", buf);

	ASSERT_EQ(0, tsm_unbind_driver(self->bdf));
	EXPECT_EQ(0, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0));
	EXPECT_EQ(0, tsm_dsm_tdi_state(self->bdf, buf, sizeof(buf)));
	EXPECT_STREQ("CONFIG_LOCKED", buf);
	EXPECT_EQ(0, hook_do(hook, self->bdf, HOOK_UNBIND, 0, -1, 0, 0));
	close(hook);
	close(vm);
}

/* The firmware's failure status becomes connect's errno; nothing is left. */
TEST_F(tsm_link, firmware_error_is_connect_errno)
{
	struct fake_msg m;
	char buf[64];
	int fd = fake_fw_open();
	pid_t child;

	ASSERT_GE(fd, 0);
	child = connect_async(self->bdf, self->tsm);
	ASSERT_GT(child, 0);
	ASSERT_EQ(TSM_FW_CMD_CONNECT, fake_read(fd, &m));
	ASSERT_EQ(1, m.connect.dev.bus);
	ASSERT_EQ(0, fake_complete(fd, m.hdr.req_id, -EACCES, TSM_FW_ERR_CERT));
	ASSERT_EQ(EACCES, child_errno(child));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	/* A COMPLETE for a command that is over is ignored. */
	ASSERT_EQ(0, fake_complete(fd, m.hdr.req_id, 0, 0));
	close(fd);
}

/* One DOE exchange relayed to the real mailbox: GET_VERSION -> VERSION. */
TEST_F(tsm_link, relay_reaches_the_device)
{
	static const uint8_t get_version[4] = { 0x10, 0x84, 0, 0 };
	struct fake_msg m;
	struct tsm_fw_dev dev;
	int fd = fake_fw_open();
	pid_t child;

	ASSERT_GE(fd, 0);
	child = connect_async(self->bdf, self->tsm);
	ASSERT_GT(child, 0);
	ASSERT_EQ(TSM_FW_CMD_CONNECT, fake_read(fd, &m));
	dev = m.connect.dev;
	ASSERT_EQ(0, fake_doe_request(fd, m.hdr.req_id, &dev, 0, get_version, 4));
	ASSERT_EQ(TSM_FW_CMD_DOE_RESPONSE, fake_read(fd, &m));
	ASSERT_EQ(0, m.doe_resp.resp.status);
	ASSERT_EQ(0U, m.doe_resp.resp.seq);
	ASSERT_GE(m.doe_resp.resp.length, 4U);
	ASSERT_EQ(0x04, m.doe_resp.payload[1]);	/* SPDM VERSION */
	/* End the command as failed: the kernel must not claim a connection. */
	ASSERT_EQ(0, fake_complete(fd, m.hdr.req_id, -EIO, TSM_FW_ERR_PROTOCOL));
	ASSERT_EQ(EIO, child_errno(child));
	close(fd);
}

/* Asking for another device's mailbox ends the command with EPROTO. */
TEST_F(tsm_link, relay_refuses_other_device)
{
	static const uint8_t get_version[4] = { 0x10, 0x84, 0, 0 };
	struct fake_msg m;
	struct tsm_fw_dev dev;
	int fd = fake_fw_open();
	pid_t child;

	ASSERT_GE(fd, 0);
	child = connect_async(self->bdf, self->tsm);
	ASSERT_GT(child, 0);
	ASSERT_EQ(TSM_FW_CMD_CONNECT, fake_read(fd, &m));
	dev = m.connect.dev;
	dev.bus ^= 0x40;
	ASSERT_EQ(0, fake_doe_request(fd, m.hdr.req_id, &dev, 0, get_version, 4));
	ASSERT_EQ(EPROTO, child_errno(child));
	/* The firmware is told: its request fails. */
	ASSERT_EQ(TSM_FW_CMD_DOE_RESPONSE, fake_read(fd, &m));
	ASSERT_EQ(-EPERM, m.doe_resp.resp.status);
	close(fd);
}

/* A caller killed while the firmware works: the command is cancelled. */
TEST_F(tsm_link, killed_caller_cancels_command)
{
	static const uint8_t get_version[4] = { 0x10, 0x84, 0, 0 };
	struct fake_msg m;
	struct tsm_fw_dev dev;
	char buf[64];
	int fd = fake_fw_open();
	uint64_t req_id;
	pid_t child;

	ASSERT_GE(fd, 0);
	child = connect_async(self->bdf, self->tsm);
	ASSERT_GT(child, 0);
	ASSERT_EQ(TSM_FW_CMD_CONNECT, fake_read(fd, &m));
	req_id = m.hdr.req_id;
	dev = m.connect.dev;
	kill(child, SIGKILL);
	ASSERT_EQ(1000 + SIGKILL, child_errno(child));
	/* The firmware's late request for the abandoned command is refused. */
	ASSERT_EQ(0, fake_doe_request(fd, req_id, &dev, 0, get_version, 4));
	ASSERT_EQ(TSM_FW_CMD_DOE_RESPONSE, fake_read(fd, &m));
	ASSERT_EQ(-ECANCELED, m.doe_resp.resp.status);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	close(fd);
}

/* A firmware that never answers: ETIMEDOUT after the kernel's 30 s. */
TEST_F_TIMEOUT(tsm_link, silent_firmware_times_out, 90)
{
	struct fake_msg m;
	int fd = fake_fw_open();
	pid_t child;

	ASSERT_GE(fd, 0);
	child = connect_async(self->bdf, self->tsm);
	ASSERT_GT(child, 0);
	ASSERT_EQ(TSM_FW_CMD_CONNECT, fake_read(fd, &m));
	ASSERT_EQ(ETIMEDOUT, child_errno(child));
	close(fd);
}

/* The firmware dies while a TDI is bound: unbind still forgets it. */
TEST_F_TIMEOUT(tsm_link, unbind_without_firmware, 120)
{
	struct hook_res *res = calloc(1, sizeof(*res));
	int vm, hook;
	char buf[64];

	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, connect_vm_hook(self, &vm, &hook));
	ASSERT_EQ(0, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0));
	tsm_fw_stop(self->fw, SIGKILL);
	self->fw = 0;
	/* No firmware: guest requests fail cleanly, the TDI stays bound. */
	ASSERT_EQ(-ENODEV, hook_req(hook, self->bdf, TSM_FW_GUEST_GET_STATE, res));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ(self->tsm, buf);
	ASSERT_EQ(0, hook_do(hook, self->bdf, HOOK_UNBIND, 0, -1, 0, 0));
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));

	/* A new firmware finds the device (still locked from before) and recovers. */
	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
	ASSERT_EQ(0, tsm_connect_wait(self->bdf, self->tsm));
	ASSERT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));
	close(hook);
	close(vm);
	free(res);
}

/* Closing the caller device unbinds what it bound. */
TEST_F_TIMEOUT(tsm_link, closing_caller_unbinds, 120)
{
	int vm, hook;
	char buf[64];

	ASSERT_EQ(0, connect_vm_hook(self, &vm, &hook));
	ASSERT_EQ(0, hook_do(hook, self->bdf, HOOK_BIND, 0x100, vm, 0, 0));
	close(vm);	/* the hook keeps the VM alive while bound */
	close(hook);
	ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/bound", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
}

/*
 * Devices whose DSM misbehaves (tsm-dsm knobs, one device each, see
 * harness/qemu.py TSM_DEVICES): every fault ends in a clean errno and a
 * torn-down state, the firmware survives it, and the well-behaved test device
 * still connects through the same firmware afterwards.
 */
FIXTURE(dsm_fault) {
	char bdf[32];
	char good[32];
	char tsm[32];
	pid_t fw;
	int vm;
	int hook;
	struct hook_res *res;
};

FIXTURE_VARIANT(dsm_fault) {
	const char *role;
	int connect_errno;	/* 0: connects */
	int bind_errno;		/* after a connect: 0 binds */
	int run_ends_in_error;	/* START succeeds, then the TDI is in ERROR */
};

/* CHALLENGE_AUTH / KEY_EXCHANGE_RSP signatures do not verify */
FIXTURE_VARIANT_ADD(dsm_fault, bad_signature) {
	.role = "bad-signature", .connect_errno = EACCES,
};

/* ResponderVerifyData over the wrong transcript */
FIXTURE_VARIANT_ADD(dsm_fault, wrong_transcript) {
	.role = "wrong-transcript", .connect_errno = EACCES,
};

/* KEY_EXCHANGE_RSP cut in half: malformed */
FIXTURE_VARIANT_ADD(dsm_fault, truncate_key_exchange) {
	.role = "truncate-key-exchange", .connect_errno = EPROTO,
};

/*
 * 8 KiB of junk after CERTIFICATE: more than QEMU's DOE takes from its SPDM
 * socket (4.5 KiB), so the mailbox exchange itself fails (EIO from DOE)
 */
FIXTURE_VARIANT_ADD(dsm_fault, oversize_certificate) {
	.role = "oversize-certificate", .connect_errno = EIO,
};

/* LOCK_INTERFACE answered with TDISP_ERROR */
FIXTURE_VARIANT_ADD(dsm_fault, tdisp_error_lock) {
	.role = "tdisp-error-lock", .bind_errno = EIO,
};

/* The TDI drops into ERROR right after START_INTERFACE */
FIXTURE_VARIANT_ADD(dsm_fault, error_after_start) {
	.role = "error-after-start", .run_ends_in_error = 1,
};

FIXTURE_SETUP(dsm_fault)
{
	self->fw = 0;
	self->vm = -1;
	self->hook = -1;
	self->res = calloc(1, sizeof(*self->res));
	ASSERT_NE(NULL, self->res);
	ASSERT_EQ(0, tsm_insmod_once(TSM_EMU_KO));
	ASSERT_EQ(0, tsm_find_device(variant->role, self->bdf,
				     sizeof(self->bdf)))
		TH_LOG("no device with role %s (tsm.devices=)", variant->role);
	ASSERT_EQ(0, tsm_find_test_device(self->good, sizeof(self->good)));
	ASSERT_EQ(0, tsm_find_tsm(self->tsm, sizeof(self->tsm)));
	tsm_disconnect_any(self->bdf);
	tsm_disconnect_any(self->good);
	ASSERT_EQ(0, tsm_unbind_driver(self->bdf));
	ASSERT_EQ(0, tsm_unbind_driver(self->good));
	self->fw = tsm_fw_start(TSM_FW_LOG);
	ASSERT_GT(self->fw, 0);
}

FIXTURE_TEARDOWN(dsm_fault)
{
	if (self->hook >= 0)
		close(self->hook);
	if (self->vm >= 0)
		close(self->vm);
	tsm_disconnect_any(self->bdf);
	tsm_disconnect_any(self->good);
	tsm_fw_stop(self->fw, SIGTERM);
	free(self->res);
}

#define EXPECT_DSM_TDI(bdf, want) do {					\
		char _st[64] = "";					\
		EXPECT_EQ(0, tsm_dsm_tdi_state(bdf, _st, sizeof(_st)));	\
		EXPECT_STREQ(want, _st);				\
	} while (0)

TEST_F_TIMEOUT(dsm_fault, clean_failure, 240)
{
	char buf[64];
	int rc;

	rc = tsm_connect_wait(self->bdf, self->tsm);
	if (variant->connect_errno) {
		ASSERT_EQ(-variant->connect_errno, rc)
			TH_LOG("connect: %s", strerror(-rc));
		ASSERT_EQ(0, tsm_attr_read(self->bdf, "tsm/connect", buf,
					   sizeof(buf)));
		EXPECT_STREQ("", buf);
		EXPECT_EQ(-ENXIO, tsm_attr_write(self->bdf, "tsm/disconnect",
						 self->tsm));
		goto good_device;
	}
	ASSERT_EQ(0, rc) TH_LOG("connect: %s", strerror(-rc));
	self->vm = tsm_vm_create();
	ASSERT_GE(self->vm, 0);
	self->hook = open(TSM_EMU_TEST, O_RDWR);
	ASSERT_GE(self->hook, 0);
	rc = hook_do(self->hook, self->bdf, HOOK_BIND, 0x100, self->vm, 0, 0);
	if (variant->bind_errno) {
		ASSERT_EQ(-variant->bind_errno, rc)
			TH_LOG("bind: %s", strerror(-rc));
		EXPECT_EQ(0, tsm_bound(self->bdf));
		EXPECT_DSM_TDI(self->bdf, "CONFIG_UNLOCKED");
	} else {
		ASSERT_EQ(0, rc) TH_LOG("bind: %s", strerror(-rc));
		EXPECT_DSM_TDI(self->bdf, "CONFIG_LOCKED");
		rc = hook_req(self->hook, self->bdf, TSM_FW_GUEST_START,
			      self->res);
		EXPECT_EQ(0, rc) TH_LOG("start: %s", strerror(-rc));
		ASSERT_EQ(0, hook_req(self->hook, self->bdf,
				      TSM_FW_GUEST_GET_STATE, self->res));
		EXPECT_EQ((uint64_t)(variant->run_ends_in_error ?
				     TSM_FW_TDI_ERROR : TSM_FW_TDI_RUN),
			  self->res->tsm_code);
		EXPECT_DSM_TDI(self->bdf, variant->run_ends_in_error ?
			       "ERROR" : "RUN");
		/* STOP brings even an ERROR TDI back to CONFIG_UNLOCKED */
		EXPECT_EQ(0, hook_do(self->hook, self->bdf, HOOK_UNBIND, 0, -1,
				     0, 0));
		EXPECT_EQ(0, tsm_bound(self->bdf));
		EXPECT_DSM_TDI(self->bdf, "CONFIG_UNLOCKED");
	}
	/* The link itself is fine: disconnect tears it down */
	EXPECT_EQ(0, tsm_attr_write(self->bdf, "tsm/disconnect", self->tsm));

good_device:
	/* Same firmware, well-behaved device: connects and disconnects */
	ASSERT_EQ(0, kill(self->fw, 0));
	ASSERT_EQ(0, tsm_connect_wait(self->good, self->tsm));
	EXPECT_EQ(0, tsm_attr_write(self->good, "tsm/disconnect", self->tsm));
}

TEST_HARNESS_MAIN
