/*
 * The swappable system-call table (see sysio.h). Each default entry is a thin adapter over the
 * libc call so the table's signatures stay fixed (open's variadic mode becomes a plain argument).
 * Tests swap entries to inject faults; nothing here allocates or keeps state.
 */
#include "common/sysio.h"

static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static int sys_fallocate(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

static int sys_uring_result(kvt_sys_uring_op_t op, int fd, size_t len, off_t off, int res)
{
    (void)op;
    (void)fd;
    (void)len;
    (void)off;
    return res;
}

#define SYS_DEFAULTS                                                                           \
    {                                                                                          \
        .open = sys_open, .close = close, .pread = pread, .pwrite = pwrite, .fsync = fsync,   \
        .fdatasync = fdatasync, .fallocate = sys_fallocate, .ftruncate = ftruncate,            \
        .rename = rename, .unlink = unlink, .mkdir = mkdir, .uring_result = sys_uring_result,  \
    }

kvt_sys_t kvt_sys = SYS_DEFAULTS;

void kvt_sys_reset(void)
{
    static const kvt_sys_t defaults = SYS_DEFAULTS;
    kvt_sys = defaults;
}
