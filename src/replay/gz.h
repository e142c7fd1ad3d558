/* Streaming gzip reader (zlib) with exact-length reads, and .npy headers inside gzip
 * streams. Private; the fuzz target calls it on memory buffers. Without zlib every opener
 * returns DR3_ERR_UNSUPPORTED. */
#ifndef DR3_SRC_REPLAY_GZ_H
#define DR3_SRC_REPLAY_GZ_H

#include "../core/internal.h"
#include "npy.h"

#include <stdio.h>

typedef struct dr3i_gz {
    void *z; /* z_stream + input buffer, allocated with alloc */
    const dr3i_alloc *alloc;
    FILE *fp;           /* file source, or */
    const uint8_t *mem; /* memory source */
    size_t mem_len, mem_pos;
    int started, member_done;
    const char *name, *who;
} dr3i_gz;

dr3_status dr3i_gz_open_file(dr3i_gz *g, const dr3i_alloc *alloc, const char *path,
                             const char *who);
dr3_status dr3i_gz_open_mem(dr3i_gz *g, const dr3i_alloc *alloc, const void *data, size_t len,
                            const char *name, const char *who);
/* Exactly n decompressed bytes into dst; a shorter stream is DR3_ERR_FORMAT. */
dr3_status dr3i_gz_read(dr3i_gz *g, void *dst, size_t n);
/* The stream must end here (no decompressed byte left, no trailing garbage). */
dr3_status dr3i_gz_expect_end(dr3i_gz *g);
void dr3i_gz_close(dr3i_gz *g);

/* deflate expands at most about 1032:1: more decompressed bytes per compressed byte than
 * this cannot be in the stream, however it was written. */
#define DR3I_GZ_MAX_RATIO 1100u

/* Size in bytes of the compressed source (the file, or the memory buffer). */
dr3_status dr3i_gz_source_size(const dr3i_gz *g, uint64_t *bytes);

/* Refuses (DR3_ERR_FORMAT) a stream whose source is too small to decompress to `bytes`
 * (see DR3I_GZ_MAX_RATIO): checked before a reader allocates for what a header declares. */
dr3_status dr3i_gz_check_plausible(const dr3i_gz *g, uint64_t bytes);

/* Reads and parses the .npy header at the start of the stream. */
dr3_status dr3i_gz_npy_header(dr3i_gz *g, dr3i_npy_header *h);

#endif
