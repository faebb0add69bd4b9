/*
 * The layout of a pfs tier directory, shared by every process and node that mounts it:
 *
 *   <dir>/KVTIER-PFS                      format marker: "kvtier-pfs 1" and a description
 *   <dir>/<h0h1>/<h2h3>/<32 hex>.kvb      one record, [128-byte header | payload]
 *   <dir>/<h0h1>/<h2h3>/.tmp.<pid>.<tid>.<seq>.<nonce>   a record being written
 *
 * where the hex is kvt_key_format()'s (hi then lo, most significant digit first), so the fan-out
 * digits are the key's top 16 bits. Keys are hash output, so the 65,536 leaf directories fill
 * evenly: 100 million records make about 1,500 entries per directory, which every parallel file
 * system lists and looks up comfortably (a single flat directory of millions of entries is what
 * Lustre and GPFS metadata servers handle worst). Level and leaf directories are created lazily.
 *
 * The marker makes a directory self-describing: a tier refuses a directory whose marker names
 * another format version, and refuses to adopt a non-empty directory that has no marker (it is
 * someone else's data, or a mount point whose file system is not mounted). It is published like
 * a record, through a temporary and rename(), so two nodes opening a fresh directory at once
 * both succeed and leave one marker.
 *
 * The walk uses opendir/readdir directly (listing is not a fault-injection target); entries
 * that are not two lowercase hex digits at the two upper levels are ignored.
 */
#include "tier/pfs_layout.h"

#include "common/error.h"
#include "common/sysio.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#define MARKER_TEXT                                                                            \
    "kvtier-pfs 1\n"                                                                           \
    "layout <dir>/<hex 0-1>/<hex 2-3>/<32 hex key>.kvb, key hex = hi then lo\n"               \
    "record [128-byte kvtier block header | payload], block format 1\n"                        \
    "publish write .tmp.* in the leaf directory, fsync, rename\n"

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_fan_name(const char *name)
{
    return is_hex(name[0]) && is_hex(name[1]) && name[2] == '\0';
}

bool kvt_pfs_is_record_name(const char *name)
{
    for (int i = 0; i < 32; i++) {
        if (!is_hex(name[i])) {
            return false;
        }
    }
    return strcmp(name + 32, KVT_PFS_SUFFIX) == 0;
}

bool kvt_pfs_is_temp_name(const char *name)
{
    return strncmp(name, KVT_PFS_TEMP_PREFIX, strlen(KVT_PFS_TEMP_PREFIX)) == 0;
}

int kvt_pfs_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (kvt_sys.mkdir(buf, 0777) != 0 && errno != EEXIST) {
                return -1;
            }
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static kvt_status_t check_marker(const char *dir, int fd, kvt_error_t *err)
{
    char text[256];
    ssize_t n = kvt_sys.pread(fd, text, sizeof(text) - 1, 0);
    if (n < 0) {
        return kvt_error_set(err, KVT_ERR_IO, "pfs: %s/" KVT_PFS_MARKER ": %s", dir,
                             strerror(errno));
    }
    text[n] = '\0';
    unsigned version = 0;
    if (sscanf(text, "kvtier-pfs %u", &version) != 1) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "pfs: %s/" KVT_PFS_MARKER ": not a kvtier pfs format marker", dir);
    }
    if (version != KVT_PFS_FORMAT) {
        return kvt_error_set(err, KVT_ERR_UNSUPPORTED,
                             "pfs: %s/" KVT_PFS_MARKER ": format version %u, this kvtier reads "
                             "version %u",
                             dir, version, KVT_PFS_FORMAT);
    }
    return KVT_OK;
}

/* Whether dir holds anything but temporaries (a marker being published by another node). */
static int dir_is_empty(const char *dir, bool *empty_p)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    bool empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !kvt_pfs_is_temp_name(e->d_name)) {
            empty = false;
            break;
        }
    }
    closedir(d);
    *empty_p = empty;
    return 0;
}

static kvt_status_t publish_marker(const char *dir, bool durable, kvt_error_t *err)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/" KVT_PFS_TEMP_PREFIX "marker.%ld", dir, (long)getpid());
    snprintf(final, sizeof(final), "%s/" KVT_PFS_MARKER, dir);
    int fd = kvt_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        return kvt_error_set(err, KVT_ERR_IO, "pfs: %s: %s", tmp, strerror(errno));
    }
    size_t len = strlen(MARKER_TEXT);
    int e = 0;
    if (kvt_sys.pwrite(fd, MARKER_TEXT, len, 0) != (ssize_t)len) {
        e = errno != 0 ? errno : EIO;
    } else if (durable && kvt_sys.fsync(fd) != 0) {
        e = errno;
    }
    if (kvt_sys.close(fd) != 0 && e == 0) {
        e = errno;
    }
    if (e == 0 && kvt_sys.rename(tmp, final) != 0) {
        e = errno;
    }
    if (e != 0) {
        (void)kvt_sys.unlink(tmp);
        return kvt_error_set(err, e == ENOSPC ? KVT_ERR_NO_SPACE : KVT_ERR_IO,
                             "pfs: %s: writing the format marker: %s", final, strerror(e));
    }
    return KVT_OK;
}

kvt_status_t kvt_pfs_prepare_dir(const char *dir, bool durable, kvt_error_t *err)
{
    if (kvt_pfs_mkdir_p(dir) != 0) {
        return kvt_error_set(err, errno == ENOSPC ? KVT_ERR_NO_SPACE : KVT_ERR_IO, "pfs: %s: %s",
                             dir, strerror(errno));
    }
    char marker[PATH_MAX];
    snprintf(marker, sizeof(marker), "%s/" KVT_PFS_MARKER, dir);
    int fd = kvt_sys.open(marker, O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0) {
        kvt_status_t st = check_marker(dir, fd, err);
        (void)kvt_sys.close(fd);
        return st;
    }
    if (errno != ENOENT) {
        return kvt_error_set(err, KVT_ERR_IO, "pfs: %s: %s", marker, strerror(errno));
    }
    bool empty = false;
    if (dir_is_empty(dir, &empty) != 0) {
        return kvt_error_set(err, KVT_ERR_IO, "pfs: %s: %s", dir, strerror(errno));
    }
    if (!empty) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "pfs: %s: not empty and has no " KVT_PFS_MARKER
                             " marker: not a kvtier pfs directory (refusing to write into it)",
                             dir);
    }
    return publish_marker(dir, durable, err);
}

int kvt_pfs_walk(const char *dir, kvt_pfs_visit_fn_t visit, void *arg)
{
    DIR *top = opendir(dir);
    if (top == NULL) {
        return -1;
    }
    char l1[PATH_MAX], l2[PATH_MAX];
    struct dirent *e1;
    bool go = true;
    while (go && (e1 = readdir(top)) != NULL) {
        if (!is_fan_name(e1->d_name)) {
            continue;
        }
        int r = snprintf(l1, sizeof(l1), "%s/%s", dir, e1->d_name);
        if (r < 0 || (size_t)r >= sizeof(l1)) {
            continue;
        }
        DIR *mid = opendir(l1);
        if (mid == NULL) {
            continue;
        }
        struct dirent *e2;
        while (go && (e2 = readdir(mid)) != NULL) {
            if (!is_fan_name(e2->d_name)) {
                continue;
            }
            r = snprintf(l2, sizeof(l2), "%s/%s", l1, e2->d_name);
            if (r < 0 || (size_t)r >= sizeof(l2)) {
                continue;
            }
            DIR *leaf = opendir(l2);
            if (leaf == NULL) {
                continue;
            }
            struct dirent *e3;
            while (go && (e3 = readdir(leaf)) != NULL) {
                if (e3->d_name[0] == '.' &&
                    (e3->d_name[1] == '\0' || (e3->d_name[1] == '.' && e3->d_name[2] == '\0'))) {
                    continue;
                }
                go = visit(l2, e3->d_name, arg);
            }
            closedir(leaf);
        }
        closedir(mid);
    }
    closedir(top);
    return 0;
}

/* The mount whose mount point is the longest prefix of path (at a component boundary). */
static bool fs_from_mounts(const char *path, char *out, size_t out_len)
{
    char real[PATH_MAX];
    if (realpath(path, real) == NULL) {
        return false;
    }
    FILE *f = setmntent("/proc/self/mounts", "r");
    if (f == NULL) {
        return false;
    }
    struct mntent ent;
    char buf[4096];
    size_t best = 0;
    bool found = false;
    while (getmntent_r(f, &ent, buf, sizeof(buf)) != NULL) {
        size_t n = strlen(ent.mnt_dir);
        bool prefix = strncmp(real, ent.mnt_dir, n) == 0 &&
                      (real[n] == '/' || real[n] == '\0' || (n == 1 && ent.mnt_dir[0] == '/'));
        if (prefix && (!found || n >= best)) {
            best = n;
            found = true;
            snprintf(out, out_len, "%s", ent.mnt_type);
        }
    }
    endmntent(f);
    return found;
}

void kvt_pfs_fs_name(const char *path, char *out, size_t out_len)
{
    if (fs_from_mounts(path, out, out_len)) {
        return;
    }
    static const struct {
        unsigned long magic;
        const char *name;
    } known[] = {
        {0xEF53ul, "ext4"},       {0x58465342ul, "xfs"},    {0x01021994ul, "tmpfs"},
        {0x6969ul, "nfs"},        {0x0BD00BD0ul, "lustre"}, {0x47504653ul, "gpfs"},
        {0x9123683Eul, "btrfs"},  {0x2FC12FC1ul, "zfs"},    {0x19830326ul, "beegfs"},
        {0x00C36400ul, "ceph"},   {0xFF534D42ul, "cifs"},   {0xFE534D42ul, "smb2"},
        {0x65735546ul, "fuse"},   {0x794C7630ul, "overlay"},
    };
    struct statfs sf;
    if (statfs(path, &sf) != 0) {
        snprintf(out, out_len, "unknown fs");
        return;
    }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if ((unsigned long)sf.f_type == known[i].magic) {
            snprintf(out, out_len, "%s", known[i].name);
            return;
        }
    }
    snprintf(out, out_len, "fs 0x%lx", (unsigned long)sf.f_type);
}
