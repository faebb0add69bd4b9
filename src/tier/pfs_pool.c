/*
 * The pfs tier's channel: blocking I/O made asynchronous with a small pool of worker threads.
 *
 * A parallel file system (Lustre, GPFS, WEKA, NFS) has no io_uring fast path worth relying on:
 * its I/O is open/pread/pwrite/fsync/rename, each of which blocks for a network round trip or
 * more. Each channel therefore owns min(queue_depth, 8) threads (chosen by the caller) and two
 * rings of `depth` pointers: submit() appends to the submission ring and wakes one worker; a
 * worker executes the I/O with no lock held and appends it to the completion ring; poll() takes
 * from the completion ring, waiting on a condition variable when asked to. Both rings hold at
 * most `depth` entries because `inflight` (submitted, not yet returned by poll) is capped at
 * depth, which is also what turns a full channel into KVT_ERR_BUSY.
 *
 * The channel's mutex is held only to move pointers, never across I/O, and channels share
 * nothing, so several channels on one tier run fully in parallel. The worker's status is kept in
 * io->priv[0] and copied into io->status by poll, on the thread that owns the io: the caller may
 * read io->status at any time (kvt_tier_run does) without racing a worker's write.
 */
#include "tier/pfs_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct kvt_pfs_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers: a submission arrived, or stop */
    pthread_cond_t done_cv; /* poll/destroy: a completion arrived */
    kvt_tier_io_t **sq, **cq;
    uint32_t depth;
    uint32_t sq_head, sq_count;
    uint32_t cq_head, cq_count;
    uint32_t running;  /* taken by a worker, not yet in cq */
    uint32_t inflight; /* submitted, not yet returned by poll */
    bool stop;
    kvt_pfs_exec_fn_t exec;
    void *ctx;
    uint32_t nthreads;
    pthread_t threads[];
};

static void *worker(void *arg)
{
    kvt_pfs_pool_t *pool = arg;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->sq_count == 0) {
            pthread_cond_wait(&pool->work_cv, &pool->mu);
        }
        if (pool->sq_count == 0) { /* stop, and nothing left */
            break;
        }
        kvt_tier_io_t *io = pool->sq[pool->sq_head];
        pool->sq_head = (pool->sq_head + 1) % pool->depth;
        pool->sq_count--;
        pool->running++;
        pthread_mutex_unlock(&pool->mu);

        kvt_status_t st = pool->exec(pool->ctx, io);
        io->priv[0] = (uint64_t)(int64_t)st;

        pthread_mutex_lock(&pool->mu);
        pool->cq[(pool->cq_head + pool->cq_count) % pool->depth] = io;
        pool->cq_count++;
        pool->running--;
        pthread_cond_broadcast(&pool->done_cv);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

static void stop_workers(kvt_pfs_pool_t *pool, uint32_t started)
{
    pthread_mutex_lock(&pool->mu);
    pool->stop = true;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(pool->threads[i], NULL);
    }
}

static void free_pool(kvt_pfs_pool_t *pool)
{
    pthread_cond_destroy(&pool->done_cv);
    pthread_cond_destroy(&pool->work_cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->sq);
    free(pool->cq);
    free(pool);
}

kvt_status_t kvt_pfs_pool_create(uint32_t depth, uint32_t nthreads, kvt_pfs_exec_fn_t exec,
                                 void *ctx, kvt_pfs_pool_t **pool_p)
{
    if (depth == 0 || nthreads == 0 || nthreads > depth) {
        return KVT_ERR_INVALID;
    }
    kvt_pfs_pool_t *pool = calloc(1, sizeof(*pool) + nthreads * sizeof(pthread_t));
    if (pool == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    pool->sq = calloc(depth, sizeof(*pool->sq));
    pool->cq = calloc(depth, sizeof(*pool->cq));
    if (pool->sq == NULL || pool->cq == NULL) {
        free(pool->sq);
        free(pool->cq);
        free(pool);
        return KVT_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    pool->depth = depth;
    pool->exec = exec;
    pool->ctx = ctx;
    pool->nthreads = nthreads;
    for (uint32_t i = 0; i < nthreads; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0) {
            stop_workers(pool, i);
            free_pool(pool);
            return KVT_ERR_NO_MEMORY;
        }
    }
    *pool_p = pool;
    return KVT_OK;
}

void kvt_pfs_pool_destroy(kvt_pfs_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->mu);
    while (pool->sq_count > 0 || pool->running > 0) {
        pthread_cond_wait(&pool->done_cv, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    stop_workers(pool, pool->nthreads);
    free_pool(pool);
}

kvt_status_t kvt_pfs_pool_submit(kvt_pfs_pool_t *pool, kvt_tier_io_t *io)
{
    pthread_mutex_lock(&pool->mu);
    if (pool->inflight == pool->depth) {
        pthread_mutex_unlock(&pool->mu);
        return KVT_ERR_BUSY;
    }
    pool->inflight++;
    pool->sq[(pool->sq_head + pool->sq_count) % pool->depth] = io;
    pool->sq_count++;
    pthread_cond_signal(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    return KVT_OK;
}

size_t kvt_pfs_pool_poll(kvt_pfs_pool_t *pool, size_t min_complete, kvt_tier_io_t **done,
                         size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&pool->mu);
    if (min_complete > pool->inflight) {
        min_complete = pool->inflight;
    }
    while (pool->cq_count < min_complete) {
        pthread_cond_wait(&pool->done_cv, &pool->mu);
    }
    while (n < max && pool->cq_count > 0) {
        kvt_tier_io_t *io = pool->cq[pool->cq_head];
        pool->cq_head = (pool->cq_head + 1) % pool->depth;
        pool->cq_count--;
        pool->inflight--;
        io->status = (kvt_status_t)(int64_t)io->priv[0];
        done[n++] = io;
    }
    pthread_mutex_unlock(&pool->mu);
    return n;
}
