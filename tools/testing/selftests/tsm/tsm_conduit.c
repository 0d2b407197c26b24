// SPDX-License-Identifier: GPL-2.0-only
/*
 * The firmware conduit's model channel (<linux/tsm_conduit.h>) with a trivial
 * firmware model: one call, one page read and written back. The kernel side
 * is samples/tsm/tsm_conduit_test.rs: each write to /dev/tsm_conduit_test_ctl
 * hands the model one page (byte i = i ^ 0x3c) and one call (X0 TEST_FN, X1
 * the page's address, X2 its size, X3 a nonce, X4..X17 = 0x100 + i), and
 * succeeds only if the model inverted every byte and answered X0 0, X1 the
 * sum of the bytes, X2 the nonce + 1, X4..X17 unchanged.
 *
 * The model here also checks what the channel refuses it: memory outside the
 * handed page or across its end (EFAULT), a malformed access (EINVAL), any
 * access with no call in progress (EPERM), a second model (EBUSY), messages
 * that are no return (EINVAL); and that the call fails cleanly with no model
 * (ENODEV) and when the model goes away during it (EPIPE).
 *
 * Then the real thing behind the same channel: tsm-rmm, the CCA RMM model,
 * serves /dev/tsm_conduit_rmm, and a write of "r" to the control device makes
 * RMI calls through it (VERSION; a granule delegated, undelegated and so
 * scrubbed through the model's memory writes; a second undelegate refused).
 */
#include <pthread.h>
#include <stddef.h>
#include <linux/tsm_conduit.h>

#include "../kselftest_harness.h"
#include "tsm_utils.h"
#include "tsm_vmm.h"

#define CONDUIT_KO	"kernel/samples/tsm/tsm_conduit_test.ko"
#define MODEL_DEV	"/dev/tsm_conduit_test"
#define CTL_DEV		"/dev/tsm_conduit_test_ctl"
#define RMM_DEV		"/dev/tsm_conduit_rmm"
#define RMM_BIN		"/tsm/bin/tsm-rmm"
#define TEST_FN		0x7f000001ull
#define PAGE		4096

static int mem_op(int fd, unsigned long cmd, uint64_t addr, uint32_t len,
		  void *buf, uint32_t flags)
{
	struct tsm_conduit_mem m = {
		.addr = addr, .len = len, .flags = flags,
		.uptr = (uint64_t)(uintptr_t)buf,
	};

	return ioctl(fd, cmd, &m) ? -errno : 0;
}

/* One exchange through the control device (@what "x": test, "r": RMI): 0 or -errno. */
static int trigger_what(const char *what)
{
	int fd = open(CTL_DEV, O_WRONLY);
	int rc;

	if (fd < 0)
		return -errno;
	rc = write(fd, what, 1) == 1 ? 0 : -errno;
	close(fd);
	return rc;
}

static int trigger(void)
{
	return trigger_what("x");
}

struct trigger_call {
	pthread_t t;
	int rc;
};

static void *trigger_thread(void *arg)
{
	struct trigger_call *c = arg;

	c->rc = trigger();
	return NULL;
}

static int start_trigger(struct trigger_call *c)
{
	c->rc = 1;
	return pthread_create(&c->t, NULL, trigger_thread, c);
}

/* Reads the next call; 0 and *m filled, or -errno. */
static int next_call(int fd, struct tsm_conduit_msg *m)
{
	ssize_t n = read(fd, m, sizeof(*m));

	if (n < 0)
		return -errno;
	return n == sizeof(*m) ? 0 : -EIO;
}

static int send_return(int fd, uint64_t call_id, const uint64_t *regs)
{
	struct tsm_conduit_msg r = {
		.magic = TSM_CONDUIT_MAGIC, .version = TSM_CONDUIT_VERSION,
		.kind = TSM_CONDUIT_RETURN, .call_id = call_id,
	};
	ssize_t n;

	memcpy(r.regs, regs, sizeof(r.regs));
	n = write(fd, &r, sizeof(r));
	if (n < 0)
		return -errno;
	return n == sizeof(r) ? 0 : -EIO;
}

/* The uAPI's layout is the codec's (tsm_proto::conduit's golden values). */
TEST(layout)
{
	struct tsm_conduit_msg m;

	EXPECT_EQ(160U, sizeof(struct tsm_conduit_msg));
	EXPECT_EQ(8U, offsetof(struct tsm_conduit_msg, call_id));
	EXPECT_EQ(16U, offsetof(struct tsm_conduit_msg, regs));
	EXPECT_EQ(18U, sizeof(m.regs) / sizeof(m.regs[0]));
	EXPECT_EQ(24U, sizeof(struct tsm_conduit_mem));
	EXPECT_EQ(0x4018b900U, (unsigned int)TSM_CONDUIT_MEM_READ);
	EXPECT_EQ(0x4018b901U, (unsigned int)TSM_CONDUIT_MEM_WRITE);
}

FIXTURE(conduit) {
	int model;
};

FIXTURE_SETUP(conduit)
{
	ASSERT_EQ(0, tsm_insmod_once(CONDUIT_KO));
	self->model = open(MODEL_DEV, O_RDWR);
	ASSERT_LE(0, self->model) TH_LOG("%s: %s", MODEL_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(conduit)
{
	if (self->model >= 0)
		close(self->model);
}

/* The trivial model: the whole exchange, with the refusals it meets. */
TEST_F_TIMEOUT(conduit, one_call_one_page, 60)
{
	uint8_t page[PAGE], small[16];
	struct trigger_call c;
	struct tsm_conduit_msg m;
	uint64_t regs[TSM_CONDUIT_NR_REGS], addr, sum = 0;
	int i;

	/* No call in progress: the model may touch no memory */
	EXPECT_EQ(-EPERM, mem_op(self->model, TSM_CONDUIT_MEM_READ, 0, 1,
				 small, 0));

	ASSERT_EQ(0, start_trigger(&c));
	ASSERT_EQ(0, next_call(self->model, &m));
	EXPECT_EQ((uint32_t)TSM_CONDUIT_MAGIC, m.magic);
	EXPECT_EQ(TSM_CONDUIT_VERSION, m.version);
	EXPECT_EQ(TSM_CONDUIT_CALL_TEST, m.kind);
	EXPECT_NE(0ull, m.call_id);
	EXPECT_EQ(TEST_FN, m.regs[0]);
	addr = m.regs[1];
	EXPECT_EQ(0ull, addr % PAGE);
	EXPECT_EQ((uint64_t)PAGE, m.regs[2]);
	for (i = 4; i < TSM_CONDUIT_NR_REGS; i++)
		EXPECT_EQ(0x100ull + i, m.regs[i]);

	/* Only the handed page, whole or in part */
	EXPECT_EQ(-EFAULT, mem_op(self->model, TSM_CONDUIT_MEM_READ,
				  addr + PAGE, 1, small, 0));
	EXPECT_EQ(-EFAULT, mem_op(self->model, TSM_CONDUIT_MEM_READ,
				  addr - 8, 8, small, 0));
	EXPECT_EQ(-EFAULT, mem_op(self->model, TSM_CONDUIT_MEM_WRITE,
				  addr + PAGE - 8, 16, small, 0));
	EXPECT_EQ(-EINVAL, mem_op(self->model, TSM_CONDUIT_MEM_READ,
				  addr, 0, small, 0));
	EXPECT_EQ(-EINVAL, mem_op(self->model, TSM_CONDUIT_MEM_READ,
				  addr, PAGE + 1, page, 0));
	EXPECT_EQ(-EINVAL, mem_op(self->model, TSM_CONDUIT_MEM_READ,
				  addr, 8, small, 1));
	EXPECT_EQ(-EFAULT, mem_op(self->model, TSM_CONDUIT_MEM_READ,
				  addr, 8, NULL, 0));
	EXPECT_EQ(-ENOTTY, ioctl(self->model, _IO(0xB9, 9)) ? -errno : 0);

	ASSERT_EQ(0, mem_op(self->model, TSM_CONDUIT_MEM_READ, addr, PAGE,
			    page, 0));
	for (i = 0; i < PAGE; i++) {
		ASSERT_EQ((uint8_t)(i ^ 0x3c), page[i]) TH_LOG("byte %d", i);
		sum += page[i];
		page[i] = ~page[i];
	}
	ASSERT_EQ(0, mem_op(self->model, TSM_CONDUIT_MEM_WRITE, addr, PAGE,
			    page, 0));

	/* Messages that are no return of this call */
	memcpy(regs, m.regs, sizeof(regs));
	EXPECT_EQ(-1, write(self->model, &m, sizeof(m)));	/* a call */
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->model, &m, sizeof(m) - 1));
	EXPECT_EQ(EINVAL, errno);
	regs[0] = 0xbad;
	/* A return of another call is stale: dropped, the call still waits */
	EXPECT_EQ(0, send_return(self->model, m.call_id + 1, regs));
	tsm_msleep(100);
	EXPECT_EQ(1, c.rc);

	regs[0] = 0;
	regs[1] = sum;
	regs[2] = m.regs[3] + 1;
	ASSERT_EQ(0, send_return(self->model, m.call_id, regs));
	pthread_join(c.t, NULL);
	EXPECT_EQ(0, c.rc) TH_LOG("exchange: %s", strerror(-c.rc));

	/* The call is over: the page is no longer the model's */
	EXPECT_EQ(-EPERM, mem_op(self->model, TSM_CONDUIT_MEM_READ, addr, 8,
				 small, 0));
}

/* A model that answers wrongly fails the backend's call with its check (EIO). */
TEST_F_TIMEOUT(conduit, a_wrong_answer_is_seen, 60)
{
	struct trigger_call c;
	struct tsm_conduit_msg m;
	uint64_t regs[TSM_CONDUIT_NR_REGS];

	ASSERT_EQ(0, start_trigger(&c));
	ASSERT_EQ(0, next_call(self->model, &m));
	memcpy(regs, m.regs, sizeof(regs));
	regs[0] = 0;
	regs[1] = 0;	/* not the sum, and the page not inverted */
	regs[2] = m.regs[3] + 1;
	ASSERT_EQ(0, send_return(self->model, m.call_id, regs));
	pthread_join(c.t, NULL);
	EXPECT_EQ(-EIO, c.rc);
}

/* One model at a time; without one, a call is ENODEV. */
TEST_F_TIMEOUT(conduit, one_model_and_no_model, 60)
{
	int second = open(MODEL_DEV, O_RDWR);

	EXPECT_EQ(-1, second);
	EXPECT_EQ(EBUSY, errno);
	if (second >= 0)
		close(second);
	close(self->model);
	self->model = -1;
	EXPECT_EQ(-ENODEV, trigger());
	/* The device is free again */
	self->model = open(MODEL_DEV, O_RDWR);
	EXPECT_LE(0, self->model);
}

/* A model that goes away during the call fails it with EPIPE. */
TEST_F_TIMEOUT(conduit, model_gone_during_a_call, 60)
{
	struct trigger_call c;
	struct tsm_conduit_msg m;

	ASSERT_EQ(0, start_trigger(&c));
	ASSERT_EQ(0, next_call(self->model, &m));
	close(self->model);
	self->model = -1;
	pthread_join(c.t, NULL);
	EXPECT_EQ(-EPIPE, c.rc);
	/* The next model serves the next call */
	self->model = open(MODEL_DEV, O_RDWR);
	ASSERT_LE(0, self->model);
	ASSERT_EQ(0, start_trigger(&c));
	ASSERT_EQ(0, next_call(self->model, &m));
	EXPECT_NE(0ull, m.call_id);
	close(self->model);
	self->model = -1;
	pthread_join(c.t, NULL);
	EXPECT_EQ(-EPIPE, c.rc);
}

/*
 * The CCA RMM model behind a conduit of SMCs: RMI calls the kernel makes are
 * answered by tsm-rmm through the real channel, its memory writes included.
 */
TEST_F_TIMEOUT(conduit, rmm_model_behind_the_conduit, 60)
{
	pid_t pid;
	int rc = -ENODEV, i;

	EXPECT_EQ(-ENODEV, trigger_what("r"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		execl(RMM_BIN, "tsm-rmm", "--dev", RMM_DEV, (char *)NULL);
		_exit(127);
	}
	/* Until the model holds the device (ENODEV before) */
	for (i = 0; i < 500 && rc == -ENODEV; i++) {
		rc = trigger_what("r");
		if (rc == -ENODEV)
			tsm_msleep(10);
	}
	EXPECT_EQ(0, rc) TH_LOG("RMI through tsm-rmm: %s", strerror(-rc));
	/* Again: the model's state after the first round allows the same calls */
	EXPECT_EQ(0, trigger_what("r"));
	kill(pid, SIGTERM);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(-ENODEV, trigger_what("r"));
}

TEST_HARNESS_MAIN
