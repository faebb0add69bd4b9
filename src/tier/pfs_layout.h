/*
 * The on-disk layout of a pfs tier directory (see pfs_layout.c): the format marker, paths of
 * records and temporaries, the tree walk, and the name of the file system underneath.
 * Internal to the pfs backend.
 */
#ifndef KVT_TIER_PFS_LAYOUT_H
#define KVT_TIER_PFS_LAYOUT_H

#include <kvtier/tier.h>

#include <stddef.h>
#include <sys/stat.h>

#define KVT_PFS_MARKER "KVTIER-PFS"
#define KVT_PFS_FORMAT 1u
#define KVT_PFS_TEMP_PREFIX ".tmp."
#define KVT_PFS_SUFFIX ".kvb"
/* Room a path needs beyond the directory: "/xx/yy/" + a temporary's or a record's name. */
#define KVT_PFS_NAME_ROOM 128u

/* 32 hex key + ".kvb" */
bool kvt_pfs_is_record_name(const char *name);
bool kvt_pfs_is_temp_name(const char *name);

/* mkdir -p through kvt_sys.mkdir; errno is left set on failure. Returns 0 or -1. */
int kvt_pfs_mkdir_p(const char *path);

/*
 * Make `dir` a pfs tier directory or check that it is one: create it if missing, then read
 * KVTIER-PFS (KVT_ERR_UNSUPPORTED for another format version, KVT_ERR_INVALID for a file that
 * is not a marker) or, when there is none, refuse a non-empty directory (KVT_ERR_INVALID) and
 * publish the marker in an empty one (temp + rename, fsync'ed when durable).
 */
kvt_status_t kvt_pfs_prepare_dir(const char *dir, bool durable, kvt_error_t *err);

/*
 * Call visit(leaf_dir_path, name, arg) for every entry of every leaf directory
 * <dir>/<2 hex>/<2 hex>/, in no particular order. visit returns false to stop the walk. Returns
 * 0, or -1 with errno when `dir` itself cannot be read (level and leaf directories that vanish
 * mid-walk are skipped).
 */
typedef bool (*kvt_pfs_visit_fn_t)(const char *leaf, const char *name, void *arg);
int kvt_pfs_walk(const char *dir, kvt_pfs_visit_fn_t visit, void *arg);

/* The file system type of path ("ext4", "nfs4", "lustre", "gpfs", ... or "fs 0x..."). */
void kvt_pfs_fs_name(const char *path, char *out, size_t out_len);

#endif
