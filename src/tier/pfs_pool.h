/*
 * A channel for a tier whose I/O is blocking system calls (the parallel-filesystem tier): a
 * bounded submission queue, a few worker threads that execute the I/Os, and a completion queue
 * that poll() drains. Internal to the pfs backend.
 */
#ifndef KVT_TIER_PFS_POOL_H
#define KVT_TIER_PFS_POOL_H

#include <kvtier/tier.h>

typedef struct kvt_pfs_pool kvt_pfs_pool_t;

/* Executes one I/O on a worker thread and returns its status (the pool stores it in io->status
 * when poll hands the io back). May block; called concurrently from every worker. */
typedef kvt_status_t (*kvt_pfs_exec_fn_t)(void *ctx, kvt_tier_io_t *io);

/*
 * A pool of `nthreads` workers (1..depth) accepting up to `depth` I/Os in flight (submitted
 * and not yet returned by poll). KVT_ERR_NO_MEMORY if memory or threads run out.
 */
kvt_status_t kvt_pfs_pool_create(uint32_t depth, uint32_t nthreads, kvt_pfs_exec_fn_t exec,
                                 void *ctx, kvt_pfs_pool_t **pool_p);
/* Waits for the I/Os still queued or running, stops and joins the workers, frees. NULL: no-op. */
void kvt_pfs_pool_destroy(kvt_pfs_pool_t *pool);
/* Queue io (io->priv[0] is used): KVT_OK, or KVT_ERR_BUSY when `depth` I/Os are in flight. */
kvt_status_t kvt_pfs_pool_submit(kvt_pfs_pool_t *pool, kvt_tier_io_t *io);
/* kvt_tier_poll's contract; min_complete is capped at the I/Os in flight. */
size_t kvt_pfs_pool_poll(kvt_pfs_pool_t *pool, size_t min_complete, kvt_tier_io_t **done,
                         size_t max);

#endif
