/* Internal: whether GPUDirect Storage (NVIDIA cuFile) could be used on this machine. */
#ifndef KVT_TIER_GDS_PROBE_H
#define KVT_TIER_GDS_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Look for libcufile at run time (dlopen, nothing linked): true with "available: <library>" in
 * why, or false with "unavailable: <reason>" (e.g. "unavailable: libcufile.so.1: cannot open
 * shared object file"). Never opens the cuFile driver (that needs a GPU); safe to call anywhere.
 */
bool kvt_gds_probe(char *why, size_t why_len);

#endif
