/*
 * bench_verify_qd1: what checking every read costs a QD 1 reader on this machine, with no tier
 * code at all -- the ceiling of the nvme tier's QD 1 GET beside plain fio.
 *
 * A loop of O_DIRECT reads through io_uring, one in flight, over records laid out as the nvme
 * tier lays them out (a 4 KiB descriptor sector, then the payload; read with one readv into a
 * descriptor buffer and a payload buffer in 4 KiB pages), in three ways, alternating, median of
 * ROUNDS runs each:
 *   bare   the next read is submitted as soon as one completes (what fio does);
 *   crc    the payload's CRC-32C (kvt_crc32c, the tier's check) is computed first (what a
 *          verifying GET must do before it may return the bytes);
 *   pause  the loop waits as long as that CRC took, touching nothing, then submits.
 * bare / crc is the best ratio a verifying reader can have beside fio at QD 1. On the dev VM the
 * check of just-DMA'd bytes runs slower than over bytes flushed from the cache (bench_crc32c),
 * and pause shows that the device itself answers later after an idle gap: the check costs more
 * than its own CPU time. The scratch file lives in $TMPDIR (default /var/tmp) and is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_util.h"
#include "common/crc32c.h"

#define SECTOR  4096u
#define FILE_MB 256u
#define ROUNDS  5

enum { BARE, CRC, PAUSE, MODES };

typedef struct run {
    int fd;
    struct io_uring ring;
    unsigned char *desc, *buf;
    size_t payload;
    size_t nrec;  /* records in the file */
    size_t next;  /* the next record to read */
} run_t;

static void die(const char *what, int e)
{
    fprintf(stderr, "bench_verify_qd1: %s: %s\n", what, strerror(e));
    exit(1);
}

/* One QD 1 read of the next record (descriptor sector + payload). */
static void read_one(run_t *r)
{
    struct iovec iov[2] = {{r->desc, SECTOR}, {r->buf, r->payload}};
    off_t off = (off_t)(r->next * (SECTOR + r->payload));
    r->next = (r->next + 1) % r->nrec;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    io_uring_prep_readv(sqe, r->fd, iov, 2, off);
    int rc = io_uring_submit(&r->ring);
    if (rc < 0) {
        die("io_uring_submit", -rc);
    }
    struct io_uring_cqe *cqe;
    if ((rc = io_uring_wait_cqe(&r->ring, &cqe)) < 0) {
        die("io_uring_wait_cqe", -rc);
    }
    if (cqe->res != (int)(SECTOR + r->payload)) {
        die("read", cqe->res < 0 ? -cqe->res : EIO);
    }
    io_uring_cqe_seen(&r->ring, cqe);
}

static volatile uint32_t sink;

/* Mean microseconds per read of n reads in mode m; *crc_us_p: mean CRC time (mode CRC). */
static double loop(run_t *r, int m, size_t n, double pause_s, double *crc_us_p)
{
    double t_crc = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        read_one(r);
        if (m == CRC) {
            double a = now();
            sink += kvt_crc32c(0, r->buf, r->payload);
            t_crc += now() - a;
        } else if (m == PAUSE) {
            double a = now();
            while (now() - a < pause_s) {
            }
        }
    }
    double t = now() - t0;
    if (crc_us_p != NULL) {
        *crc_us_p = t_crc / (double)n * 1e6;
    }
    return t / (double)n * 1e6;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/kvtier-verify-qd1.XXXXXX", tmp != NULL ? tmp : "/var/tmp");
    int fd = mkostemp(path, O_DIRECT);
    if (fd < 0 && errno == EINVAL) { /* tmpfs and others: no O_DIRECT, nothing to measure */
        printf("bench_verify_qd1: skipped: no O_DIRECT in %s (set TMPDIR to a disk)\n",
               tmp != NULL ? tmp : "/var/tmp");
        return 0;
    }
    if (fd < 0) {
        die(path, errno);
    }
    unlink(path); /* removed when closed */
    /* lay the file out once: written blocks, as the tier's prefaulted or recycled segments */
    size_t chunk = (size_t)1 << 20;
    unsigned char *w;
    if (posix_memalign((void **)&w, SECTOR, chunk) != 0) {
        die("posix_memalign", ENOMEM);
    }
    for (size_t i = 0; i < chunk / 8; i++) {
        ((uint64_t *)w)[i] = kvt_splitmix64(i);
    }
    for (size_t mb = 0; mb < FILE_MB; mb++) {
        if (pwrite(fd, w, chunk, (off_t)(mb * chunk)) != (ssize_t)chunk) {
            die("writing the scratch file", errno);
        }
    }
    if (fdatasync(fd) != 0) {
        die("fdatasync", errno);
    }
    free(w);

    printf("bench_verify_qd1: O_DIRECT reads at QD 1 (io_uring; a 4 KiB descriptor sector + the "
           "payload, one readv)\nin %s, median of %d alternating runs; us per read\n\n",
           tmp != NULL ? tmp : "/var/tmp", ROUNDS);
    printf("  payload     bare    +crc  (crc alone)  +pause   ceiling = bare / +crc\n");
    static const size_t sizes[] = {(size_t)64 << 10, (size_t)1 << 20};
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        run_t r = {.fd = fd, .payload = sizes[z]};
        r.nrec = ((size_t)FILE_MB << 20) / (SECTOR + r.payload);
        if (posix_memalign((void **)&r.desc, SECTOR, SECTOR) != 0 ||
            posix_memalign((void **)&r.buf, SECTOR, r.payload) != 0) {
            die("posix_memalign", ENOMEM);
        }
        int rc = io_uring_queue_init(8, &r.ring, 0);
        if (rc < 0) {
            die("io_uring_queue_init", -rc);
        }
        size_t n = r.payload >= ((size_t)1 << 20) ? 300 : 2000;
        double us[MODES][ROUNDS], crc[ROUNDS];
        (void)loop(&r, BARE, n / 4, 0, NULL); /* warm-up */
        for (int k = 0; k < ROUNDS; k++) {
            us[BARE][k] = loop(&r, BARE, n, 0, NULL);
            us[CRC][k] = loop(&r, CRC, n, 0, &crc[k]);
            us[PAUSE][k] = loop(&r, PAUSE, n, crc[k] * 1e-6, NULL);
        }
        double med[MODES];
        for (int m = 0; m < MODES; m++) {
            med[m] = median(us[m], ROUNDS);
        }
        double c = median(crc, ROUNDS);
        printf("  %4zu KiB  %7.1f %7.1f     (%6.1f) %7.1f   %.2fx\n", r.payload >> 10, med[BARE],
               med[CRC], c, med[PAUSE], med[BARE] / med[CRC]);
        io_uring_queue_exit(&r.ring);
        free(r.desc);
        free(r.buf);
    }
    close(fd);
    return 0;
}
