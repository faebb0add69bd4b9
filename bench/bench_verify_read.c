/*
 * bench_verify_read: what checking every read costs a reader on this machine, with no tier code
 * at all -- the ceiling of the nvme tier's GET beside plain fio, which checks nothing.
 *
 * Loops of O_DIRECT reads through io_uring over records laid out as the nvme tier lays them out
 * (a 4 KiB descriptor sector, then the payload; read with one readv into a descriptor buffer and
 * a payload buffer in 4 KiB pages). At QD 1, five ways, alternating, median of ROUNDS runs each:
 *   bare   the next read is submitted as soon as one completes (what fio does);
 *   crc    the payload's CRC-32C (kvt_crc32c, the tier's check) is computed first (what a
 *          verifying GET must do before it may return the bytes);
 *   pause  the loop waits as long as that CRC took, touching nothing, then submits;
 *   touch  one byte of every 64-byte line of the payload is loaded first (the least any reader
 *          of the bytes does: a fraction of the CRC's work);
 *   fresh  like bare, but each read lands in the next payload buffer of FRESH_BYTES (64 MiB),
 *          none touched by the CPU (an engine restoring into a different buffer each time).
 * At QD 8 and 32 (one buffer per I/O in flight, as fio has), bare, crc and touch: each
 * completion is checked or touched, then its buffer goes straight back into a new read.
 * bare / crc is the best ratio a verifying reader can have beside fio. touch and fresh say why
 * it is low on a VM whose virtual disk "DMA" is a copy by a host thread: the read *after* the
 * payload was touched, or into a buffer the last reads did not use, waits longer than the touch
 * itself costs, as if fio's untouched buffers stayed in that thread's cache. The QD 1 table's
 * "its I/O" column gives the read's own latency, submission to completion, in each mode.
 * With --huge every buffer is in transparent huge pages (madvise), as an engine's pinned
 * staging buffers usually are, and the run says how much of them the kernel granted: the reads
 * get faster, the ratios do not (bench/RESULTS.md), so the ceiling is not a 4 KiB-page effect.
 * The scratch file lives in $TMPDIR (default /var/tmp) and is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_util.h"
#include "common/crc32c.h"

#define SECTOR      4096u
#define FILE_MB     256u
#define ROUNDS      5
#define FRESH_BYTES ((size_t)64 << 20)
#define QD_MAX      32u
#define NSIZES      2
#define NQD         2

static const size_t sizes[NSIZES] = {(size_t)64 << 10, (size_t)1 << 20};
static const unsigned qds[NQD] = {8, QD_MAX};

enum { BARE, CRC, PAUSE, TOUCH, FRESH, MODES };

typedef struct run {
    int fd;
    struct io_uring ring;
    unsigned char *desc, *buf;
    unsigned char *descs; /* QD_MAX descriptor sectors for the QD > 1 loops */
    unsigned char *pool;  /* FRESH_BYTES of payload buffers: the fresh mode's, and the QD > 1
                             loops' (the first qd) */
    size_t npool;         /* payload buffers in the pool */
    size_t payload;
    size_t nrec; /* records in the file */
    size_t next; /* the next record to read */
} run_t;

static void die(const char *what, int e)
{
    fprintf(stderr, "bench_verify_read: %s: %s\n", what, strerror(e));
    exit(1);
}

/* Queue a read of the next record: descriptor sector into desc, payload into buf. */
static void prep_read(run_t *r, struct iovec iov[2], unsigned char *desc, unsigned char *buf,
                      uint64_t tag)
{
    iov[0] = (struct iovec){desc, SECTOR};
    iov[1] = (struct iovec){buf, r->payload};
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    io_uring_prep_readv(sqe, r->fd, iov, 2, (off_t)(r->next * (SECTOR + r->payload)));
    io_uring_sqe_set_data64(sqe, tag);
    r->next = (r->next + 1) % r->nrec;
}

/* Wait for one completion; returns its tag. */
static uint64_t reap(run_t *r)
{
    struct io_uring_cqe *cqe;
    int rc = io_uring_wait_cqe(&r->ring, &cqe);
    if (rc < 0) {
        die("io_uring_wait_cqe", -rc);
    }
    if (cqe->res != (int)(SECTOR + r->payload)) {
        die("read", cqe->res < 0 ? -cqe->res : EIO);
    }
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    io_uring_cqe_seen(&r->ring, cqe);
    return tag;
}

static void submit(run_t *r)
{
    int rc = io_uring_submit(&r->ring);
    if (rc < 0) {
        die("io_uring_submit", -rc);
    }
}

/* One QD 1 read of the next record into buf; returns its latency in seconds, submission to
 * completion. */
static double read_one(run_t *r, unsigned char *buf)
{
    struct iovec iov[2];
    prep_read(r, iov, r->desc, buf, 0);
    double t0 = now();
    submit(r);
    (void)reap(r);
    return now() - t0;
}

static bool huge; /* --huge: buffers in transparent huge pages */

#define HUGE_PAGE ((size_t)2 << 20)

/* A buffer of len bytes, faulted in (the loops measure no page fault): 4 KiB aligned, or with
   --huge 2 MiB aligned, a whole number of 2 MiB, advised MADV_HUGEPAGE (a kernel without THP
   refuses the advice: the run goes on and reports 0 MiB granted). */
static unsigned char *buf_alloc(size_t len)
{
    size_t align = huge ? HUGE_PAGE : SECTOR;
    len = (len + align - 1) / align * align;
    void *p;
    if (posix_memalign(&p, align, len) != 0) {
        die("posix_memalign", ENOMEM);
    }
    if (huge) {
        (void)madvise(p, len, MADV_HUGEPAGE);
    }
    memset(p, 0, len);
    return p;
}

/* kB of this process's anonymous memory in huge pages (/proc/self/smaps_rollup), -1 unknown. */
static long anon_huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    long kb = -1;
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

static volatile uint32_t sink;

/* One load per 64-byte line of buf: the least a reader of the bytes does. */
static uint32_t touch(const unsigned char *buf, size_t len)
{
    uint32_t s = 0;
    for (size_t j = 0; j < len; j += 64) {
        s += ((const volatile unsigned char *)buf)[j];
    }
    return s;
}

/* One mode's figures, microseconds: per loop iteration, per read, and per CRC (mode CRC). */
typedef struct figures {
    double iter_us, read_us, crc_us;
} figures_t;

/* n reads in mode m; pause_s: how long the PAUSE mode waits after each. */
static figures_t loop(run_t *r, int m, size_t n, double pause_s)
{
    double t_crc = 0, t_read = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        unsigned char *buf = m == FRESH ? r->pool + (i % r->npool) * r->payload : r->buf;
        t_read += read_one(r, buf);
        if (m == CRC) {
            double a = now();
            sink += kvt_crc32c(0, buf, r->payload);
            t_crc += now() - a;
        } else if (m == PAUSE) {
            double a = now();
            while (now() - a < pause_s) {
            }
        } else if (m == TOUCH) {
            sink += touch(buf, r->payload);
        }
    }
    double t = now() - t0;
    return (figures_t){.iter_us = t / (double)n * 1e6,
                       .read_us = t_read / (double)n * 1e6,
                       .crc_us = t_crc / (double)n * 1e6};
}

/* GB/s of n reads with qd in flight, one payload buffer per I/O in flight (the pool's first
 * qd): each completion is checked (CRC), touched (TOUCH) or neither (BARE), and its buffer then
 * goes straight into the next read, as a verifying reader (or fio, with BARE) keeps its depth. */
static double qd_loop(run_t *r, int m, unsigned qd, size_t n)
{
    struct iovec iov[QD_MAX][2];
    size_t issued = 0, done = 0;
    double t0 = now();
    for (unsigned i = 0; i < qd; i++, issued++) {
        prep_read(r, iov[i], r->descs + (size_t)i * SECTOR, r->pool + i * r->payload, i);
    }
    submit(r);
    while (done < n) {
        uint64_t i = reap(r);
        done++;
        unsigned char *buf = r->pool + i * r->payload;
        if (m == CRC) {
            sink += kvt_crc32c(0, buf, r->payload);
        } else if (m == TOUCH) {
            sink += touch(buf, r->payload);
        }
        if (issued < n) {
            prep_read(r, iov[i], r->descs + i * SECTOR, buf, i);
            submit(r);
            issued++;
        }
    }
    return (double)n * (double)r->payload / (now() - t0) / 1e9;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--huge") == 0) {
            huge = true;
        } else {
            fprintf(stderr, "bench_verify_read: unknown option '%s' (usage: %s [--huge])\n",
                    argv[i], argv[0]);
            return 2;
        }
    }
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/kvtier-verify-read.XXXXXX", tmp != NULL ? tmp : "/var/tmp");
    int fd = mkostemp(path, O_DIRECT);
    if (fd < 0 && errno == EINVAL) { /* tmpfs and others: no O_DIRECT, nothing to measure */
        printf("bench_verify_read: skipped: no O_DIRECT in %s (set TMPDIR to a disk)\n",
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
    for (size_t mb = 0; mb < FILE_MB; mb++) {
        /* distinct bytes in every record, as the tier's blocks and fio's buffers have */
        for (size_t i = 0; i < chunk / 8; i++) {
            ((uint64_t *)w)[i] = kvt_splitmix64(mb * (chunk / 8) + i);
        }
        if (pwrite(fd, w, chunk, (off_t)(mb * chunk)) != (ssize_t)chunk) {
            die("writing the scratch file", errno);
        }
    }
    if (fdatasync(fd) != 0) {
        die("fdatasync", errno);
    }
    free(w);

    printf("bench_verify_read: O_DIRECT reads (io_uring; a 4 KiB descriptor sector + the "
           "payload, one readv)\nin %s, into buffers in %s\n\nat QD 1, median of %d alternating "
           "runs: us per read (whole loop), and of it the I/O\n(submission to completion)\n\n",
           tmp != NULL ? tmp : "/var/tmp", huge ? "transparent huge pages (--huge)" : "4 KiB pages",
           ROUNDS);
    printf("  payload  mode     per read   its I/O   bare / mode\n");
    static const char *const names[MODES] = {"bare", "+crc", "+pause", "+touch", "fresh"};
    double qd_gbps[NSIZES][NQD][MODES];
    long granted_kb[NSIZES], asked_kb[NSIZES];
    for (size_t z = 0; z < NSIZES; z++) {
        run_t r = {.fd = fd, .payload = sizes[z]};
        r.nrec = ((size_t)FILE_MB << 20) / (SECTOR + r.payload);
        r.npool = FRESH_BYTES / r.payload;
        r.desc = buf_alloc(SECTOR);
        r.descs = buf_alloc((size_t)QD_MAX * SECTOR);
        r.buf = buf_alloc(r.payload);
        r.pool = buf_alloc(FRESH_BYTES);
        if (huge) {
            granted_kb[z] = anon_huge_kb();
            size_t buf_bytes = (r.payload + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
            asked_kb[z] = (long)((2 * HUGE_PAGE + buf_bytes + FRESH_BYTES) >> 10);
        }
        int rc = io_uring_queue_init(QD_MAX, &r.ring, 0);
        if (rc < 0) {
            die("io_uring_queue_init", -rc);
        }
        size_t n = r.payload >= ((size_t)1 << 20) ? 300 : 2000;
        double iter[MODES][ROUNDS], io[MODES][ROUNDS], crc[ROUNDS] = {0};
        (void)loop(&r, BARE, n / 4, 0); /* warm-up */
        for (int k = 0; k < ROUNDS; k++) {
            for (int m = 0; m < MODES; m++) {
                figures_t f = loop(&r, m, n, crc[k] * 1e-6); /* CRC runs before PAUSE */
                iter[m][k] = f.iter_us;
                io[m][k] = f.read_us;
                if (m == CRC) {
                    crc[k] = f.crc_us;
                }
            }
        }
        double bare = median(iter[BARE], ROUNDS);
        for (int m = 0; m < MODES; m++) {
            double it = median(iter[m], ROUNDS);
            char size[32] = "";
            if (m == 0) {
                snprintf(size, sizeof(size), "%zu KiB", r.payload >> 10);
            }
            printf("  %8s  %-7s %8.1f  %8.1f     %.2fx", size, names[m], it, median(io[m], ROUNDS),
                   bare / it);
            if (m == CRC) {
                printf("   (the CRC alone %.1f us; ceiling = bare / +crc)", median(crc, ROUNDS));
            }
            printf("\n");
        }
        for (size_t q = 0; q < NQD; q++) {
            double gb[MODES][ROUNDS];
            size_t nq = r.payload >= ((size_t)1 << 20) ? 600 : 6000;
            for (int k = 0; k < ROUNDS; k++) {
                for (int m = 0; m < MODES; m++) {
                    if (m == BARE || m == CRC || m == TOUCH) {
                        gb[m][k] = qd_loop(&r, m, qds[q], nq);
                    }
                }
            }
            for (int m = 0; m < MODES; m++) {
                if (m == BARE || m == CRC || m == TOUCH) {
                    qd_gbps[z][q][m] = median(gb[m], ROUNDS);
                }
            }
        }
        io_uring_queue_exit(&r.ring);
        free(r.desc);
        free(r.descs);
        free(r.buf);
        free(r.pool);
    }
    if (huge) {
        printf("\nbuffers in transparent huge pages (--huge); granted by the kernel:");
        for (size_t z = 0; z < NSIZES; z++) {
            printf("%s%ld of %ld MiB (%zu KiB run)", z > 0 ? ", " : " ", granted_kb[z] / 1024,
                   asked_kb[z] / 1024, sizes[z] >> 10);
        }
        printf("\n");
    }
    printf("\nwith QD reads in flight, one payload buffer each (as fio has); GB/s, median of %d "
           "alternating runs\n\n"
           "  payload    QD     bare    +crc  +touch   +crc / bare   +touch / bare\n",
           ROUNDS);
    for (size_t z = 0; z < NSIZES; z++) {
        for (size_t q = 0; q < NQD; q++) {
            const double *g = qd_gbps[z][q];
            printf("  %4zu KiB  %4u  %7.2f %7.2f %7.2f         %.2fx           %.2fx\n",
                   sizes[z] >> 10, qds[q], g[BARE], g[CRC], g[TOUCH], g[CRC] / g[BARE],
                   g[TOUCH] / g[BARE]);
        }
    }
    close(fd);
    return 0;
}
