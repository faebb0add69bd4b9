/* Helpers the libFuzzer targets share: a memory file to hand a reader a path, and removing a
 * scratch tier directory. Header-only: each target is one translation unit. */
#ifndef KVT_FUZZ_UTIL_H
#define KVT_FUZZ_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file in memory (memfd, or an unlinked temp file where memfd_create is missing) and its path
   (/proc/self/fd/N) for readers that take one; -1 on failure. */
static inline int fuzz_memory_file(const char *name, char *path, size_t len)
{
    int fd = memfd_create(name, 0);
    if (fd < 0) {
        char tmpl[] = "/tmp/kvtier_fuzz_XXXXXX";
        fd = mkstemp(tmpl);
        if (fd < 0) {
            return -1;
        }
        unlink(tmpl);
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

static inline int fuzz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove dir and everything under it. */
static inline void fuzz_rm_tree(const char *dir)
{
    (void)nftw(dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
