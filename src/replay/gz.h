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

/* Reads and parses the .npy header at the start of the stream. */
dr3_status dr3i_gz_npy_header(dr3i_gz *g, dr3i_npy_header *h);

#endif
