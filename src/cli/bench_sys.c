/*
 * What `kvtier info` says about the machine, read from where the kernel publishes it: memory and
 * huge pages from /proc/meminfo, the CPU model from /proc/cpuinfo, free space and filesystem type
 * from statvfs/statfs, and whether io_uring works by setting one up and running a no-op (set-up
 * alone succeeds under some seccomp profiles that then refuse submissions). NUMA nodes come from
 * hw/numa_probe.c, the same reader the cxl tier chooses its node with. Nothing here needs
 * privileges, so the report works in containers and on machines without the tiers.
 *
 * It also owns the scratch directories the storage tiers are benchmarked in: a fresh
 * mkdtemp directory under the user's --dir (or $TMPDIR, else /var/tmp), removed afterwards with
 * everything in it, together with any directory this created on the way -- never a directory
 * the user already had.
 */
#include "cli/bench_sys.h"

#include <errno.h>
#include <ftw.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

bool kvt_sys_meminfo(const char *field, uint64_t *v_p)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    size_t flen = strlen(field);
    bool found = false;
    if (f == NULL) {
        return false;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            char *end;
            unsigned long long v = strtoull(line + flen + 1, &end, 10);
            while (*end == ' ') {
                end++;
            }
            *v_p = strncmp(end, "kB", 2) == 0 ? (uint64_t)v * 1024 : (uint64_t)v;
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

void kvt_sys_cpu_model(char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, len, "unknown");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon != NULL) {
                colon++;
                while (*colon == ' ' || *colon == '\t') {
                    colon++;
                }
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(buf, len, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

bool kvt_sys_io_uring_works(char *why, size_t why_len)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        snprintf(why, why_len, "io_uring_setup: %s", strerror(-rc));
        return false;
    }
    /* set up is not enough under some seccomp profiles: submit a no-op and reap it */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    struct io_uring_cqe *cqe = NULL;
    bool ok = false;
    if (sqe != NULL) {
        io_uring_prep_nop(sqe);
        rc = io_uring_submit(&ring);
        if (rc == 1) {
            rc = io_uring_wait_cqe(&ring, &cqe);
        }
        ok = rc >= 0 && cqe != NULL && cqe->res == 0;
        if (!ok) {
            snprintf(why, why_len, "io_uring no-op failed: %s",
                     strerror(rc < 0 ? -rc : cqe != NULL ? -cqe->res : EIO));
        }
    }
    io_uring_queue_exit(&ring);
    return ok;
}

static const struct {
    unsigned long magic;
    const char *name;
} fs_names[] = {
    {0xEF53, "ext4"},      {0x58465342, "xfs"},   {0x9123683E, "btrfs"}, {0x01021994, "tmpfs"},
    {0x6969, "nfs"},       {0x0BD00BD0, "lustre"}, {0x47504653, "gpfs"},  {0x794C7630, "overlay"},
    {0xFF534D42, "cifs"},  {0x65735546, "fuse"},  {0x2FC12FC1, "zfs"},   {0x00C36400, "ceph"},
    {0x5346414F, "afs"},   {0x4244, "hfs"},       {0x858458F6, "ramfs"}, {0xF2F52010, "f2fs"},
    {0x19830326, "beegfs"}, {0x61756673, "aufs"},
};

bool kvt_sys_fs_free(const char *path, uint64_t *free_p, char *fstype, size_t fstype_len)
{
    struct statvfs v;
    struct statfs s;
    if (statvfs(path, &v) != 0) {
        return false;
    }
    *free_p = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
    if (fstype != NULL) {
        snprintf(fstype, fstype_len, "unknown");
        if (statfs(path, &s) == 0) {
            snprintf(fstype, fstype_len, "0x%lx", (unsigned long)s.f_type);
            for (size_t i = 0; i < sizeof(fs_names) / sizeof(fs_names[0]); i++) {
                if ((unsigned long)s.f_type == fs_names[i].magic) {
                    snprintf(fstype, fstype_len, "%s", fs_names[i].name);
                }
            }
        }
    }
    return true;
}

/* mkdir -p; created receives the topmost directory made ("" if none). */
static bool mkdir_p(const char *path, char *created, size_t created_len, char *why,
                    size_t why_len)
{
    char buf[4096];
    size_t n = strlen(path);
    created[0] = '\0';
    if (n == 0 || n >= sizeof(buf)) {
        snprintf(why, why_len, "cannot create directory \"%s\": name too long or empty", path);
        return false;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') {
            continue;
        }
        char c = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (stat(buf, &st) != 0) {
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                snprintf(why, why_len, "cannot create directory %s: %s", buf, strerror(errno));
                if (created[0] != '\0') {
                    kvt_sys_rm_rf(created);
                    created[0] = '\0';
                }
                return false;
            }
            if (created[0] == '\0') {
                snprintf(created, created_len, "%s", buf);
            }
        } else if (!S_ISDIR(st.st_mode)) {
            snprintf(why, why_len, "%s is not a directory", buf);
            return false;
        }
        buf[i] = c;
    }
    return true;
}

bool kvt_sys_scratch_make(const char *parent, kvt_sys_scratch_t *s, char *why, size_t why_len)
{
    memset(s, 0, sizeof(*s));
    if (parent == NULL) {
        const char *t = getenv("TMPDIR");
        parent = t != NULL && t[0] != '\0' ? t : "/var/tmp";
    }
    if (!mkdir_p(parent, s->created, sizeof(s->created), why, why_len)) {
        return false;
    }
    int n = snprintf(s->path, sizeof(s->path), "%s/kvtier-bench.XXXXXX", parent);
    if (n < 0 || (size_t)n >= sizeof(s->path) || mkdtemp(s->path) == NULL) {
        snprintf(why, why_len, "cannot create a directory in %s: %s", parent,
                 n < 0 || (size_t)n >= sizeof(s->path) ? "name too long" : strerror(errno));
        if (s->created[0] != '\0') {
            kvt_sys_rm_rf(s->created);
        }
        memset(s, 0, sizeof(*s));
        return false;
    }
    return true;
}

void kvt_sys_scratch_remove(kvt_sys_scratch_t *s)
{
    if (s->path[0] != '\0') {
        kvt_sys_rm_rf(s->path);
    }
    if (s->created[0] != '\0') {
        kvt_sys_rm_rf(s->created);
    }
    memset(s, 0, sizeof(*s));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

void kvt_sys_rm_rf(const char *path)
{
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void *kvt_sys_alloc_buffers(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    size_t align = bytes >= huge ? huge : 4096;
    size_t len = (bytes + align - 1) / align * align;
    void *p = NULL;
    if (len == 0 || posix_memalign(&p, align, len) != 0) {
        return NULL;
    }
    if (align == huge) {
        (void)madvise(p, len, MADV_HUGEPAGE); /* without THP: 4 KiB pages, only slower */
    }
    return p;
}
