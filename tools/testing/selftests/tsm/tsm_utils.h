/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the tsm selftests: find the test device, hand it to a
 * vfio-pci driver, open its vfio cdev and set up iommufd objects.
 *
 * The harness gives every test device a role (tsm.devices= on the kernel
 * command line): "tsm0" is the test device, "tsm1" a second well-behaved one,
 * the others each have a tsm-dsm misbehaviour knob switched on.
 */
#ifndef __TSM_UTILS_H
#define __TSM_UTILS_H

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define TSM_NVME_CLASS 0x010802

/* The emulated platform: its module, the firmware's device, binary and trust anchor. */
#define TSM_EMU_KO	"kernel/samples/tsm/tsm_emu.ko"
#define TSM_FW_DEV	"/dev/tsm_fw"
#define TSM_FW_BIN	"/tsm/bin/tsm-fw"
#define TSM_FW_ANCHOR	"/etc/tsm/root.pem"

/* CLOCK_MONOTONIC in nanoseconds, for the tests' and the benchmark's timings. */
static inline double tsm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline void tsm_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline int tsm_read_sysfs(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

static inline int tsm_write_sysfs(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The first @len bytes of @bdf's config space (sysfs), into @cfg: 0 or -errno. */
static inline int tsm_read_config(const char *bdf, void *cfg, size_t len)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, len, 0);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * Writes @len bytes at @off of the device's config space as root does it
 * (setpci): through sysfs, or with @proc through /proc/bus/pci.
 * Return: 0 or -errno.
 */
static inline int tsm_user_write_config(const char *bdf, bool proc, off_t off,
					const void *val, size_t len)
{
	unsigned int dom, bus, dev, fn;
	char path[512];
	ssize_t n;
	int fd;

	if (!proc) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	} else {
		if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
			return -EINVAL;
		/* With its domain where the arch says so (arm64), else without */
		snprintf(path, sizeof(path), "/proc/bus/pci/%04x:%02x/%02x.%x", dom, bus,
			 dev, fn);
		if (access(path, F_OK))
			snprintf(path, sizeof(path), "/proc/bus/pci/%02x/%02x.%x", bus, dev, fn);
	}
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = pwrite(fd, val, len, off);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Offset of capability @id in the device's (physical) config space. */
static inline int tsm_find_cap(const char *bdf, int id)
{
	unsigned char cfg[256];
	int pos, hops = 0, ret = tsm_read_config(bdf, cfg, sizeof(cfg));

	if (ret)
		return ret;
	pos = cfg[PCI_CAPABILITY_LIST] & ~3;
	while (pos && hops++ < 48) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & ~3;
	}
	return -ENOENT;
}

/* Offset of extended capability @id in the device's config space. */
static inline int tsm_find_ext_cap(const char *bdf, int id)
{
	unsigned char cfg[4096];
	uint32_t hdr, off = 0x100;
	int hops = 0, ret = tsm_read_config(bdf, cfg, sizeof(cfg));

	if (ret)
		return ret;
	while (off >= 0x100 && off + 4 <= sizeof(cfg) && hops++ < 64) {
		memcpy(&hdr, cfg + off, 4);
		if ((hdr & 0xffff) == (uint32_t)id)
			return off;
		off = hdr >> 20;
	}
	return -ENOENT;
}

/*
 * Finds the device with role @role ("tsm0", "tsm1", or a tsm-dsm misbehaviour
 * such as "bad-signature") in "tsm.devices=BDF=ROLE,..." on the kernel command
 * line (harness/qemu.py puts it there); fills @bdf.
 */
static inline int tsm_find_device(const char *role, char *bdf, size_t len)
{
	static char cmdline[4096];
	char *p, *tok, *save, *eq;

	if (tsm_read_sysfs("/proc/cmdline", cmdline, sizeof(cmdline)))
		return -errno;
	p = strstr(cmdline, "tsm.devices=");
	if (!p)
		return -ENODEV;
	p += strlen("tsm.devices=");
	p[strcspn(p, " ")] = '\0';
	for (tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (!eq || strcmp(eq + 1, role) || (size_t)(eq - tok) >= len)
			continue;
		memcpy(bdf, tok, eq - tok);
		bdf[eq - tok] = '\0';
		return 0;
	}
	return -ENODEV;
}

/*
 * Finds the test device: TSM_TEST_BDF, else role "tsm0", else the NVMe
 * function with the lowest address; fills @bdf.
 */
static inline int tsm_find_test_device(char *bdf, size_t len)
{
	const char *env = getenv("TSM_TEST_BDF");
	struct dirent *de;
	char path[512], buf[64], best[64] = "";
	DIR *d;

	if (env) {
		snprintf(bdf, len, "%s", env);
		return 0;
	}
	if (!tsm_find_device("tsm0", bdf, len))
		return 0;
	d = opendir("/sys/bus/pci/devices");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(best))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class",
			 de->d_name);
		if (tsm_read_sysfs(path, buf, sizeof(buf)))
			continue;
		if (strtoul(buf, NULL, 16) == TSM_NVME_CLASS &&
		    (!best[0] || strcmp(de->d_name, best) < 0))
			strcpy(best, de->d_name);
	}
	closedir(d);
	if (!best[0] || strlen(best) >= len)
		return -ENODEV;
	strcpy(bdf, best);
	return 0;
}

/* Unbinds whatever driver @bdf has (none: nothing to do). */
static inline int tsm_unbind_driver(const char *bdf)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	if (access(path, F_OK))
		return errno == ENOENT ? 0 : -errno;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	return tsm_write_sysfs(path, bdf);
}

/* Binds @bdf to @drv (e.g. "vfio-pci") through driver_override. */
static inline int tsm_bind_driver(const char *bdf, const char *drv)
{
	char path[512], cur[256];
	ssize_t n;
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, cur, sizeof(cur) - 1);
	if (n > 0) {
		cur[n] = '\0';
		if (!strcmp(strrchr(cur, '/') + 1, drv))
			return 0;
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		ret = tsm_write_sysfs(path, bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	ret = tsm_write_sysfs(path, drv);
	if (ret)
		return ret;
	return tsm_write_sysfs("/sys/bus/pci/drivers_probe", bdf);
}

/* Opens /dev/vfio/devices/vfioN of @bdf. */
static inline int tsm_open_vfio_cdev(const char *bdf)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int fd = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/devices/%s", de->d_name);
		fd = open(path, O_RDWR);
		if (fd < 0)
			fd = -errno;
		break;
	}
	closedir(d);
	return fd;
}

static inline int tsm_bind_iommufd(int devfd, int iommufd, uint32_t *dev_id)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};

	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	*dev_id = bind.out_devid;
	return 0;
}

static inline int tsm_ioas_alloc(int iommufd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return -errno;
	*ioas_id = alloc.out_ioas_id;
	return 0;
}

static inline int tsm_hwpt_alloc(int iommufd, uint32_t dev_id, uint32_t pt_id,
				 uint32_t flags, uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &alloc))
		return -errno;
	*hwpt_id = alloc.out_hwpt_id;
	return 0;
}

static inline int tsm_attach_pt(int devfd, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = pt_id,
	};

	return ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) ? -errno : 0;
}

/*
 * Binds @devfd to @iommufd and attaches it to a new nesting-parent HWPT over a
 * new IOAS: the stage-2 a vIOMMU is built on.
 */
static inline int tsm_setup_nest_parent(int devfd, int iommufd,
					uint32_t *dev_id, uint32_t *hwpt_id)
{
	uint32_t ioas_id = 0;
	int ret;

	ret = tsm_bind_iommufd(devfd, iommufd, dev_id);
	if (!ret)
		ret = tsm_ioas_alloc(iommufd, &ioas_id);
	if (!ret)
		ret = tsm_hwpt_alloc(iommufd, *dev_id, ioas_id,
				     IOMMU_HWPT_ALLOC_NEST_PARENT, hwpt_id);
	if (!ret)
		ret = tsm_attach_pt(devfd, *hwpt_id);
	return ret;
}

static inline int tsm_viommu_alloc(int iommufd, uint32_t type, uint32_t dev_id,
				   uint32_t hwpt_id, uint32_t *viommu_id)
{
	struct iommu_viommu_alloc alloc = {
		.size = sizeof(alloc),
		.type = type,
		.dev_id = dev_id,
		.hwpt_id = hwpt_id,
	};

	if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &alloc))
		return -errno;
	*viommu_id = alloc.out_viommu_id;
	return 0;
}

static inline int tsm_vdevice_alloc(int iommufd, uint32_t viommu_id,
				    uint32_t dev_id, uint64_t virt_id,
				    uint32_t *vdevice_id)
{
	struct iommu_vdevice_alloc alloc = {
		.size = sizeof(alloc),
		.viommu_id = viommu_id,
		.dev_id = dev_id,
		.virt_id = virt_id,
	};

	if (ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &alloc))
		return -errno;
	*vdevice_id = alloc.out_vdevice_id;
	return 0;
}

static inline int tsm_attr_read(const char *bdf, const char *attr, char *buf,
				size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return tsm_read_sysfs(path, buf, len);
}

static inline int tsm_attr_write(const char *bdf, const char *attr,
				 const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return tsm_write_sysfs(path, val);
}

/* The first registered TSM ("tsmN") in /sys/class/tsm. */
static inline int tsm_find_tsm(char *name, size_t len)
{
	struct dirent *de;
	DIR *d = opendir("/sys/class/tsm");

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "tsm", 3) || strlen(de->d_name) >= len)
			continue;
		strcpy(name, de->d_name);
		closedir(d);
		return 0;
	}
	closedir(d);
	return -ENOENT;
}

/* Connects @bdf to TSM @tsm, retrying while no firmware is attached yet. */
static inline int tsm_connect_wait(const char *bdf, const char *tsm)
{
	int ret = -ENODEV;

	for (int i = 0; i < 200 && ret == -ENODEV; i++) {
		ret = tsm_attr_write(bdf, "tsm/connect", tsm);
		if (ret == -ENODEV)
			tsm_msleep(100);
	}
	return ret;
}

/* Starts the software TSM firmware on /dev/tsm_fw, its output going to @log. */
static inline pid_t tsm_fw_start(const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* The firmware must not keep the caller's vfio, iommufd or VM open */
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execl(TSM_FW_BIN, TSM_FW_BIN, "--dev", TSM_FW_DEV,
		      "--trust-anchor", TSM_FW_ANCHOR, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static inline void tsm_fw_stop(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
}

/*
 * tsm_fw_start(), then waits (up to 20 s) until the firmware logged that its
 * handshake with the kernel is done, so a connect finds it attached.
 */
static inline pid_t tsm_fw_start_ready(const char *log)
{
	char buf[4096];
	off_t from;
	pid_t pid;
	int fd;

	fd = open(log, O_RDONLY | O_CREAT, 0644);
	if (fd < 0)
		return -errno;
	from = lseek(fd, 0, SEEK_END);
	pid = tsm_fw_start(log);
	for (int i = 0; pid > 0 && i < 200; i++) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);

		buf[n > 0 ? n : 0] = '\0';
		if (strstr(buf, "handshake done")) {
			close(fd);
			return pid;
		}
		tsm_msleep(100);
	}
	close(fd);
	if (pid <= 0)
		return pid;
	/* No handshake within 20 s: the firmware is not usable, say so at once. */
	tsm_fw_stop(pid, SIGKILL);
	return -ETIMEDOUT;
}

/*
 * The emulated DSM's own view of @bdf, from the host: harness/qemu.py answers
 * a query line on the console with the state tsm-dsm last wrote, e.g.
 * "spdm=established ide.stream0=active tdi=CONFIG_LOCKED". tsm-dsm writes it
 * before its response leaves, so it is current once a request returned.
 *
 * Return: 0; -ETIMEDOUT if nobody answered in 10 s (not run by the harness).
 */
static inline int tsm_dsm_state(const char *bdf, char *buf, size_t len)
{
	static unsigned int seq;
	char line[512], tag[64];
	struct pollfd p;
	int fd, ret = -ETIMEDOUT;
	size_t taglen;
	ssize_t n;

	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return -errno;
	taglen = snprintf(tag, sizeof(tag), "tsm-dsm-reply %d.%u ", getpid(),
			  ++seq);
	dprintf(fd, "### tsm-dsm-query %d.%u %s\n", getpid(), seq, bdf);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	/* The console is in canonical mode: one read, one line. */
	while (poll(&p, 1, 10000) == 1) {
		n = read(fd, line, sizeof(line) - 1);
		if (n <= 0)
			break;
		line[n] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, tag, taglen))
			continue;
		snprintf(buf, len, "%s", line + taglen);
		ret = 0;
		break;
	}
	close(fd);
	return ret;
}

/* The TDI state tsm-dsm reports for @bdf ("CONFIG_LOCKED", ...) into @buf. */
static inline int tsm_dsm_tdi_state(const char *bdf, char *buf, size_t len)
{
	char all[512], *tdi;
	int ret = tsm_dsm_state(bdf, all, sizeof(all));

	if (ret)
		return ret;
	tdi = strstr(all, "tdi=");
	if (!tdi)
		return -EPROTO;
	tdi += 4;
	tdi[strcspn(tdi, " ")] = '\0';
	snprintf(buf, len, "%s", tdi);
	return 0;
}

/*
 * What the emulated device saw of the host (tsm-dsm follows QEMU's trace of
 * every config write that reaches it): config writes, the TDISP host events
 * among them (MSE/BME clear, FLR, D3, BAR change, DOE abort), the violations
 * (an event that reached a CONFIG_LOCKED or RUN TDI, or a DOE abort that
 * dropped the SPDM session), the cause of the last one, and the TDI state.
 */
struct tsm_dsm_host {
	long cfg_writes;
	long mmio;
	long events;
	long violations;
	char last_violation[64];
	char spdm[32];
	char tdi[32];
};

static inline int tsm_dsm_word(const char *all, const char *key, char *buf,
			       size_t len)
{
	const char *p = all;
	size_t klen = strlen(key), n;

	while ((p = strstr(p, key))) {
		if ((p == all || p[-1] == ' ') && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, " ");
			if (n >= len)
				return -ENOSPC;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return 0;
		}
		p += klen;
	}
	return -ENOENT;
}

/*
 * Return: 0; -EPROTO if the DSM does not report what it saw (a boot without
 * the trace: "error=untraced"), -EAGAIN if it had not caught up with the
 * trace in time.
 */
static inline int tsm_dsm_host(const char *bdf, struct tsm_dsm_host *h)
{
	char all[512], w[32];
	int ret = tsm_dsm_state(bdf, all, sizeof(all));

	if (ret)
		return ret;
	memset(h, 0, sizeof(*h));
	if (strstr(all, "error=trace-behind"))
		return -EAGAIN;
	if (strstr(all, "error=untraced"))
		return -EPROTO;
	if (tsm_dsm_word(all, "host.cfg_writes", w, sizeof(w)))
		return -EPROTO;
	h->cfg_writes = strtol(w, NULL, 10);
	if (tsm_dsm_word(all, "host.mmio", w, sizeof(w)))
		return -EPROTO;
	h->mmio = strtol(w, NULL, 10);
	if (tsm_dsm_word(all, "host.events", w, sizeof(w)))
		return -EPROTO;
	h->events = strtol(w, NULL, 10);
	if (tsm_dsm_word(all, "host.violations", w, sizeof(w)))
		return -EPROTO;
	h->violations = strtol(w, NULL, 10);
	if (tsm_dsm_word(all, "host.last_violation", h->last_violation,
			 sizeof(h->last_violation)) ||
	    tsm_dsm_word(all, "spdm", h->spdm, sizeof(h->spdm)) ||
	    tsm_dsm_word(all, "tdi", h->tdi, sizeof(h->tdi)))
		return -EPROTO;
	return 0;
}

/*
 * Since @before (a tsm_dsm_host() of @bdf) no config write and no MMIO access
 * reached the device of @bdf, it saw no violation, and its TDI and SPDM states
 * did not change. For use inside a TEST.
 */
#define TSM_EXPECT_DEVICE_SAW_NOTHING(bdf, before) do {			\
		struct tsm_dsm_host _now;				\
		EXPECT_EQ(0, tsm_dsm_host((bdf), &_now));		\
		EXPECT_EQ((before).cfg_writes, _now.cfg_writes)	\
			TH_LOG("config writes reached the device");	\
		EXPECT_EQ((before).mmio, _now.mmio)			\
			TH_LOG("MMIO accesses reached the device");	\
		EXPECT_EQ((before).violations, _now.violations)	\
			TH_LOG("device saw a violation: %s", _now.last_violation); \
		EXPECT_STREQ((before).tdi, _now.tdi);			\
		EXPECT_STREQ((before).spdm, _now.spdm);			\
	} while (0)

#endif /* __TSM_UTILS_H */
