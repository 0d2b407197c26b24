// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark (not a test): what vfio-pci-tsm costs over plain vfio-pci, and
 * how fast a TDI binds and unbinds.
 *
 * 1. Config space and BAR0 read/write time per access through the vfio
 *    regions (pread/pwrite on the cdev, the paths the variant driver filters)
 *    with the same, unbound device on vfio-pci and on vfio-pci-tsm, in
 *    interleaved A/B rounds of one boot (each round measures both drivers, in
 *    alternating order); reported per op as the median over the rounds of the
 *    round's ratio tsm / plain, with its spread (min, quartiles, max).
 * 2. Bind + unbind cycles per second through VFIO_DEVICE_TSM_BIND/UNBIND and
 *    through IOMMU_VDEVICE_TSM_OP, with the emulated platform (tsm-fw relaying
 *    every TDISP message over DOE to tsm-dsm on the host).
 *
 *   tsm_bench [accesses per round] [bind cycles] [rounds]
 * Lines "bench: <name> <value> <unit>" are for scripts. Needs the arm64 guest.
 */
#include <signal.h>

#include "tsm_vmm.h"

#define FW_LOG		"/tmp/tsm-fw-bench.log"
#define MAX_ROUNDS	100
#define NVME_INTMS	0x0c	/* writing 0 to Interrupt Mask Set changes nothing */

enum { CFG_RD, CFG_WR, BAR_RD, BAR_WR, NR_OPS };
static const char *const op_name[NR_OPS] = {
	"config-read", "config-write", "bar0-read", "bar0-write",
};

/* Times @n accesses of each kind on @bdf, bound to @drv, into @ns[] (sums). */
static int access_round(const char *bdf, const char *drv, long n, double *ns)
{
	struct vfio_region_info cfg, bar;
	uint32_t dev_id, ioas_id = 0, v32 = 0;
	uint16_t cmd;
	int devfd, iommufd, rc;
	double t;

	rc = tsm_bind_driver(bdf, drv);
	if (rc)
		return rc;
	devfd = tsm_open_vfio_cdev(bdf);
	if (devfd < 0)
		return devfd;
	iommufd = open("/dev/iommu", O_RDWR);
	rc = iommufd < 0 ? -errno : tsm_bind_iommufd(devfd, iommufd, &dev_id);
	if (!rc)
		rc = tsm_ioas_alloc(iommufd, &ioas_id);
	if (!rc)
		rc = tsm_attach_pt(devfd, ioas_id);
	if (!rc)
		rc = tsm_region_info(devfd, VFIO_PCI_CONFIG_REGION_INDEX, &cfg);
	if (!rc)
		rc = tsm_region_info(devfd, VFIO_PCI_BAR0_REGION_INDEX, &bar);
	/* BAR accesses need memory decode */
	if (!rc)
		rc = tsm_cfg_read(devfd, cfg.offset, PCI_COMMAND, &cmd, 2);
	cmd |= PCI_COMMAND_MEMORY;
	if (!rc)
		rc = tsm_cfg_write(devfd, cfg.offset, PCI_COMMAND, &cmd, 2);

	t = tsm_now_ns();
	for (long i = 0; i < n && !rc; i++)
		rc = tsm_cfg_read(devfd, cfg.offset, PCI_COMMAND, &cmd, 2);
	ns[CFG_RD] += tsm_now_ns() - t;
	t = tsm_now_ns();
	for (long i = 0; i < n && !rc; i++)
		rc = tsm_cfg_write(devfd, cfg.offset, PCI_COMMAND, &cmd, 2);
	ns[CFG_WR] += tsm_now_ns() - t;
	t = tsm_now_ns();
	for (long i = 0; i < n && !rc; i++)
		rc = pread(devfd, &v32, 4, bar.offset) == 4 ? 0 : -EIO;
	ns[BAR_RD] += tsm_now_ns() - t;
	v32 = 0;
	t = tsm_now_ns();
	for (long i = 0; i < n && !rc; i++)
		rc = pwrite(devfd, &v32, 4, bar.offset + NVME_INTMS) == 4 ?
		     0 : -EIO;
	ns[BAR_WR] += tsm_now_ns() - t;

	if (iommufd >= 0)
		close(iommufd);
	close(devfd);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile (0..1) of the sorted @v[@n], interpolated. */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* Bind + unbind cycles per second, through VFIO (@iommufd_op 0) or iommufd. */
static int bind_cycles(struct tsm_vmm *v, int cycles, int iommufd_op,
		       double *per_s)
{
	double t = tsm_now_ns();
	int rc = 0;

	for (int i = 0; i < cycles && !rc; i++) {
		if (iommufd_op) {
			rc = tsm_iommufd_op(v->iommufd, IOMMU_VDEVICE_TSM_BIND,
					    v->vdevice_id);
			if (!rc)
				rc = tsm_iommufd_op(v->iommufd,
						    IOMMU_VDEVICE_TSM_UNBIND,
						    v->vdevice_id);
		} else {
			rc = tsm_vfio_bind(v->devfd, v->vdevice_id);
			if (!rc)
				rc = tsm_vfio_unbind(v->devfd);
		}
	}
	*per_s = cycles / ((tsm_now_ns() - t) / 1e9);
	return rc;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int cycles = argc > 2 ? atoi(argv[2]) : 20;
	int rounds = argc > 3 ? atoi(argv[3]) : 10;
	const char *drv[2] = { "vfio-pci", TSM_VFIO_DRV };
	static double ratio[NR_OPS][MAX_ROUNDS];
	double tot[2][NR_OPS] = { 0 }, vfio_s = 0, iommufd_s = 0;
	char bdf[32], tsm[32];
	struct tsm_vmm v;
	pid_t fw = 0;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = tsm_platform_ready(bdf, sizeof(bdf), tsm, sizeof(tsm));
	if (rc || n <= 0 || cycles <= 0 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "tsm_bench: no emulated platform or bad args: %s\n",
			strerror(-rc));
		return 1;
	}
	printf("# %s, %d interleaved rounds of %ld accesses per kind and driver, unbound\n",
	       bdf, rounds, n);
	for (int r = 0; r < rounds && !rc; r++) {
		double ns[2][NR_OPS] = { 0 };

		/* A then B in even rounds, B then A in odd ones */
		for (int d = 0; d < 2 && !rc; d++)
			rc = access_round(bdf, drv[(r + d) % 2], n, ns[(r + d) % 2]);
		for (int o = 0; o < NR_OPS && !rc; o++) {
			ratio[o][r] = ns[1][o] / ns[0][o];
			tot[0][o] += ns[0][o];
			tot[1][o] += ns[1][o];
		}
	}
	if (rc) {
		fprintf(stderr, "tsm_bench: accesses failed: %s\n", strerror(-rc));
		return 1;
	}
	printf("# %-13s %11s %11s %8s  %s\n", "access", "vfio-pci", "-tsm",
	       "median", "ratio min / q1 / q3 / max over the rounds");
	for (int o = 0; o < NR_OPS; o++) {
		double *q = ratio[o], med;

		qsort(q, rounds, sizeof(*q), cmp_double);
		med = quantile(q, rounds, 0.5);
		printf("# %-13s %8.0f ns %8.0f ns %8.3f  %.3f / %.3f / %.3f / %.3f\n",
		       op_name[o], tot[0][o] / (rounds * n), tot[1][o] / (rounds * n),
		       med, q[0], quantile(q, rounds, 0.25), quantile(q, rounds, 0.75),
		       q[rounds - 1]);
		printf("bench: %s-ratio %.3f tsm/plain (median of %d rounds)\n",
		       op_name[o], med, rounds);
		printf("bench: %s-ratio-iqr %.3f\n", op_name[o],
		       quantile(q, rounds, 0.75) - quantile(q, rounds, 0.25));
	}

	/* Bind cycles: connected, assigned with KVM, unbound between cycles */
	tsm_vmm_init(&v);
	rc = tsm_bind_driver(bdf, TSM_VFIO_DRV);
	v.vm = rc ? -1 : tsm_vm_create();
	if (!rc && v.vm < 0)
		rc = v.vm;
	if (!rc)
		rc = tsm_vmm_assign(&v, bdf, 1, 0x100);
	if (!rc)
		rc = tsm_connect_fw(bdf, tsm, FW_LOG, &fw);
	if (!rc)
		rc = bind_cycles(&v, cycles, 0, &vfio_s);
	if (!rc)
		rc = bind_cycles(&v, cycles, 1, &iommufd_s);
	tsm_vmm_release(&v);
	if (v.vm >= 0)
		close(v.vm);
	tsm_disconnect_any(bdf);
	tsm_fw_stop(fw, SIGTERM);
	if (rc) {
		fprintf(stderr, "tsm_bench: bind cycles failed: %s\n", strerror(-rc));
		return 1;
	}
	printf("# bind+unbind, %d cycles each: VFIO %.2f/s (%.1f ms), iommufd %.2f/s (%.1f ms)\n",
	       cycles, vfio_s, 1e3 / vfio_s, iommufd_s, 1e3 / iommufd_s);
	printf("bench: bind-unbind-vfio %.2f cycles/s\n", vfio_s);
	printf("bench: bind-unbind-iommufd %.2f cycles/s\n", iommufd_s);
	return 0;
}
