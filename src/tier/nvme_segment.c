/*
 * The NVMe tier's on-disk format and its recovery scan.
 *
 * A segment is one preallocated file, seg-NNNNN.kvt, of segment_bytes. Sector 0 holds the
 * segment header: magic "KVTSEG01", format version, the segment's index, segment_bytes and the
 * segment's generation (a number that grows every time any segment is (re)started), with an
 * XXH3 checksum. Records follow back to back from offset 4096, each
 *
 *     [descriptor sector: block header (128 B) | "KVTREC01" gen off payload_bytes xxh3 | 0...]
 *     [payload, zero-padded to a multiple of 4096]
 *
 * so the payload starts on a sector boundary and a GET reads it with O_DIRECT straight into the
 * caller's buffer. The price is up to 4 KiB of descriptor per record (6% of a 64 KiB block,
 * 0.4% of 1 MiB, nothing that matters at 16 MiB) plus the padding of the payload's last sector.
 * The alternative, the header in the tail of the payload's last sector, saves that sector for
 * most sizes but makes a zero-copy PUT write the tail from a bounce buffer and makes the log
 * unscannable forwards (the length sits after the data), so recovery could not find records.
 *
 * The descriptor repeats the segment generation and its own offset under a checksum: a sector
 * is a record only if it names this segment's current generation and the very place it was
 * read from. Stale records left from a previous use of the segment, and payload bytes that
 * happen to look like a header, therefore never pass.
 *
 * Recovery reads each segment from the front, in 1 MiB chunks: a valid descriptor adds its
 * record to the index and the scan jumps over the payload; anything else advances the scan by
 * one sector. It does NOT stop at the first invalid record: appends complete out of order (up
 * to queue_depth writes in flight per channel), so after a crash a torn or never-written record
 * can sit before records whose put already completed and was reported durable. Resynchronising
 * sector by sector costs a read of the holes and of the segment's unused tail (unwritten extents
 * of a preallocated file read as zeros without touching the device), i.e. open time grows with
 * the data stored; a per-segment summary written at seal time would make it O(records).
 * Payload checksums are not checked here (that would read every byte at open) but on every GET.
 */
#include "tier/nvme_internal.h"

#include "common/le.h"
#include "common/logging.h"
#include "common/sysio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define SEG_VERSION 1u

void nvme_seg_path(const nvme_tier_t *t, uint32_t i, char *buf, size_t len)
{
    snprintf(buf, len, "%s/seg-%05u.kvt", t->dir, i);
}

void nvme_seg_header_encode(const nvme_tier_t *t, uint32_t index, uint64_t gen, void *out)
{
    unsigned char *p = out;
    memset(p, 0, NVME_SECTOR);
    memcpy(p, NVME_SEG_MAGIC, 8);
    kvt_put_le64(p + 8, ((uint64_t)index << 32) | SEG_VERSION);
    kvt_put_le64(p + 16, t->seg_bytes);
    kvt_put_le64(p + 24, gen);
    kvt_put_le64(p + 32, XXH3_64bits(p, 32));
}

bool nvme_seg_header_decode(const nvme_tier_t *t, uint32_t index, const void *in,
                            uint64_t *gen_p)
{
    const unsigned char *p = in;
    if (memcmp(p, NVME_SEG_MAGIC, 8) != 0 || kvt_get_le64(p + 32) != XXH3_64bits(p, 32) ||
        kvt_get_le64(p + 8) != (((uint64_t)index << 32) | SEG_VERSION) ||
        kvt_get_le64(p + 16) != t->seg_bytes || kvt_get_le64(p + 24) == 0) {
        return false;
    }
    *gen_p = kvt_get_le64(p + 24);
    return true;
}

void nvme_rec_encode(const kvt_block_meta_t *meta, uint64_t gen, uint64_t off, void *out)
{
    unsigned char *p = out;
    memset(p, 0, NVME_SECTOR);
    kvt_block_header_encode(meta, p);
    memcpy(p + 128, NVME_REC_MAGIC, 8);
    kvt_put_le64(p + 136, gen);
    kvt_put_le64(p + 144, off);
    kvt_put_le64(p + 152, meta->payload_bytes);
    kvt_put_le64(p + 160, XXH3_64bits(p, 160));
}

bool nvme_rec_decode(const void *in, uint64_t gen, uint64_t off, uint64_t seg_bytes,
                     kvt_block_meta_t *meta_p)
{
    const unsigned char *p = in;
    if (memcmp(p + 128, NVME_REC_MAGIC, 8) != 0 || kvt_get_le64(p + 160) != XXH3_64bits(p, 160) ||
        kvt_get_le64(p + 136) != gen || kvt_get_le64(p + 144) != off) {
        return false;
    }
    kvt_block_meta_t m;
    if (kvt_block_header_decode(p, &m, NULL) != KVT_OK || m.payload_bytes != kvt_get_le64(p + 152) ||
        m.payload_bytes > seg_bytes || nvme_rec_bytes(m.payload_bytes) > seg_bytes - off) {
        return false;
    }
    *meta_p = m;
    return true;
}

void nvme_seg_recover(nvme_tier_t *t, uint32_t i, void *buf, size_t buf_len, uint64_t *gen_p,
                      uint64_t *end_p)
{
    nvme_seg_t *s = &t->seg[i];
    char path[4096];
    nvme_seg_path(t, i, path, sizeof(path));
    ssize_t n = kvt_sys.pread(s->fd, buf, NVME_SECTOR, 0);
    uint64_t gen = 0;
    if (n < 0) {
        kvt_log_error("nvme: %s: reading the segment header: %s", path, strerror(errno));
        nvme_count_error(t);
    }
    if (n != (ssize_t)NVME_SECTOR || !nvme_seg_header_decode(t, i, buf, &gen)) {
        *gen_p = 0; /* never started, or started and torn: free */
        *end_p = 0;
        return;
    }
    atomic_store(&s->gen, gen); /* the index compares copies by their segment's generation */
    uint64_t pos = NVME_SECTOR, end = NVME_SECTOR, chunk_off = 0, chunk_len = 0;
    size_t found = 0;
    while (pos + NVME_SECTOR <= t->seg_bytes) {
        if (pos < chunk_off || pos + NVME_SECTOR > chunk_off + chunk_len) {
            uint64_t want = t->seg_bytes - pos < buf_len ? t->seg_bytes - pos : buf_len;
            n = kvt_sys.pread(s->fd, buf, (size_t)want, (off_t)pos);
            if (n < (ssize_t)NVME_SECTOR) {
                kvt_log_error("nvme: %s: read at %llu during recovery: %s; the rest of the "
                              "segment is skipped",
                              path, (unsigned long long)pos,
                              n < 0 ? strerror(errno) : "short read");
                nvme_count_error(t);
                break;
            }
            chunk_off = pos;
            chunk_len = (uint64_t)n & ~(uint64_t)(NVME_SECTOR - 1);
        }
        const unsigned char *p = (const unsigned char *)buf + (pos - chunk_off);
        kvt_block_meta_t meta;
        if (nvme_rec_decode(p, gen, pos, t->seg_bytes, &meta)) {
            nvme_loc_t loc = {.seg = i, .off = pos, .rec_bytes = nvme_rec_bytes(meta.payload_bytes)};
            (void)nvme_index_put(t, meta.key, meta.payload_bytes, &loc, gen, false);
            pos += loc.rec_bytes;
            end = pos;
            found++;
        } else {
            pos += NVME_SECTOR;
        }
    }
    kvt_log_debug("nvme: %s: generation %llu, %zu records, end %llu", path,
                  (unsigned long long)gen, found, (unsigned long long)end);
    *gen_p = gen;
    *end_p = end;
}
