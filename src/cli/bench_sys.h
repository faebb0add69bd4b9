/* Internal: facts about this machine for `kvtier info` and `kvtier bench`, and scratch dirs. */
#ifndef KVT_CLI_BENCH_SYS_H
#define KVT_CLI_BENCH_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A /proc/meminfo field as a number: kB fields in bytes, counts (HugePages_*) as counts.
   false when the field is missing. */
bool kvt_sys_meminfo(const char *field, uint64_t *v_p);

/* "model name" of the first CPU in /proc/cpuinfo, or "unknown". */
void kvt_sys_cpu_model(char *buf, size_t len);

/* Whether an io_uring can be set up here; else why (errno text). */
bool kvt_sys_io_uring_works(char *why, size_t why_len);

/* Free bytes for an unprivileged user of the filesystem holding path (statvfs), and its type
   name ("ext4", "xfs", "tmpfs", "nfs", "lustre", ... or a hex magic). */
bool kvt_sys_fs_free(const char *path, uint64_t *free_p, char *fstype, size_t fstype_len);

/*
 * A scratch area for nvme/pfs tiers: parent (or, when NULL, $TMPDIR, else /var/tmp) is created
 * if missing (with its missing parents), then a fresh kvtier-bench.XXXXXX inside it. The scratch
 * dir, and the directories this created, go in kvt_sys_scratch_remove(). errno-style message in
 * why on failure, naming the path.
 */
typedef struct kvt_sys_scratch {
    char path[4096];    /* the fresh directory */
    char created[4096]; /* the topmost directory created above it, or "" */
} kvt_sys_scratch_t;

bool kvt_sys_scratch_make(const char *parent, kvt_sys_scratch_t *s, char *why, size_t why_len);
void kvt_sys_scratch_remove(kvt_sys_scratch_t *s);

/*
 * bytes of buffer memory for a benchmark's payloads, as a memory tier's own memory is (arena.c):
 * 2 MiB aligned and advised to transparent huge pages when it is 2 MiB or more, 4 KiB aligned
 * when less. Free with free(); NULL when out of memory.
 */
void *kvt_sys_alloc_buffers(size_t bytes);

/* Remove a directory tree (no symlinks followed). */
void kvt_sys_rm_rf(const char *path);

#endif
