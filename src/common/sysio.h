/*
 * The system calls the persistent tiers make, behind one table that tests can swap (SQLite's
 * xSetSystemCall). Production code calls kvt_sys.pwrite(...) where it would call pwrite(...);
 * a test replaces an entry to inject ENOSPC, EIO, short reads or torn writes, and restores it with
 * kvt_sys_reset(). io_uring completions go through `uring_result`, which sees each completion's
 * result before the tier does and may rewrite it (a negative errno or a short count).
 *
 * The table is process-global and not synchronised: swap entries only while no tier I/O runs.
 */
#ifndef KVT_COMMON_SYSIO_H
#define KVT_COMMON_SYSIO_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef enum kvt_sys_uring_op {
    KVT_SYS_URING_READ = 0,
    KVT_SYS_URING_WRITE = 1,
    KVT_SYS_URING_FSYNC = 2,
} kvt_sys_uring_op_t;

typedef struct kvt_sys {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    /* io_uring: the completion result `res` of an operation on fd of len bytes at off; returns
       the result the tier acts on (default: res unchanged). */
    int (*uring_result)(kvt_sys_uring_op_t op, int fd, size_t len, off_t off, int res);
} kvt_sys_t;

extern kvt_sys_t kvt_sys;

/* Put every entry back to the real system call. */
void kvt_sys_reset(void);

#endif
