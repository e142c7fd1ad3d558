/* The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON {"name": {"dtype", "shape",
 * "data_offsets": [begin, end]}, ..., "__metadata__": {string: string}}, then the data
 * region the offsets index. The reader validates everything before anything is used. */
#ifndef DR3_SRC_IO_SAFETENSORS_H
#define DR3_SRC_IO_SAFETENSORS_H

#include <dr3/common.h>

#include "atomic_file.h"

#include <stddef.h>
#include <stdint.h>

enum { DR3I_ST_MAX_TENSORS = 256, DR3I_ST_MAX_META = 32, DR3I_ST_MAX_DIMS = 8 };
/* The largest JSON header accepted (bytes). */
#define DR3I_ST_MAX_HEADER (100u * 1024 * 1024)

typedef struct dr3i_st_tensor {
    char name[128];
    char dtype[8];
    size_t rank, shape[DR3I_ST_MAX_DIMS];
    size_t begin, end; /* offsets into the data region */
    const unsigned char *data;
} dr3i_st_tensor;

typedef struct dr3i_st_file {
    size_t n_tensors, n_meta;
    uint64_t data_start; /* file offset of the data region (dr3i_st_read_header) */
    dr3i_st_tensor tensors[DR3I_ST_MAX_TENSORS];
    char meta_key[DR3I_ST_MAX_META][64];
    char meta_val[DR3I_ST_MAX_META][256];
} dr3i_st_file;

/* Parses and validates a whole file image (buf stays owned by the caller and must outlive
 * the tensors' data pointers). `what` names the file in messages. */
dr3_status dr3i_st_parse(const unsigned char *buf, size_t len, dr3i_st_file *out,
                         const char *who, const char *what);
/* Parses and validates the JSON header (hlen bytes) of a file whose data region has
 * data_len bytes: everything dr3i_st_parse checks, but the tensors' data pointers stay
 * NULL. */
dr3_status dr3i_st_parse_header(const unsigned char *json, size_t hlen, size_t data_len,
                                dr3i_st_file *out, const char *who, const char *what);
/* Reads and validates only the header of an open file: the 8-byte length is checked
 * against the file size before the header is allocated (through `alloc`) and read, and the
 * tensors must tile the rest of the file exactly. Read the tensors afterwards with
 * dr3i_rfile_read(f, out->data_start + t->begin, ...). */
dr3_status dr3i_st_read_header(const dr3i_rfile *f, const dr3i_alloc *alloc, dr3i_st_file *out);
const dr3i_st_tensor *dr3i_st_find(const dr3i_st_file *f, const char *name);
const char *dr3i_st_meta(const dr3i_st_file *f, const char *key);

/* Writer: tensors are F32 (or U8 when `bytes` is set) with rank 1 or 2; written
 * atomically; every buffer comes from `alloc`. */
typedef struct dr3i_st_out {
    const char *name;
    size_t rank, shape[4]; /* rank 1 to 4 */
    const void *data;
    int bytes; /* 1: U8 elements, 0: F32 elements */
} dr3i_st_out;
dr3_status dr3i_st_write(const char *path, const dr3i_st_out *tensors, size_t n,
                         const char *const (*meta)[2], size_t n_meta, const dr3i_alloc *alloc,
                         const char *who);

#endif
