/* NumPy .npy headers (format versions 1.0, 2.0, 3.0): a strict parser and a writer. Private;
 * exposed here so tests and fuzz targets can call the parser on memory buffers. */
#ifndef DR3_SRC_REPLAY_NPY_H
#define DR3_SRC_REPLAY_NPY_H

#include <dr3/common.h>

#include <stddef.h>

/* The element types libdr3 reads ('<' little-endian, '|' byte-sized). */
typedef enum dr3i_npy_dtype {
    DR3I_NPY_F4 = 0, /* '<f4' */
    DR3I_NPY_F8 = 1, /* '<f8' */
    DR3I_NPY_U1 = 2, /* '|u1' */
    DR3I_NPY_B1 = 3, /* '|b1' */
    DR3I_NPY_I4 = 4, /* '<i4' */
    DR3I_NPY_I8 = 5  /* '<i8' */
} dr3i_npy_dtype;

#define DR3I_NPY_MAX_DIMS 8
/* Largest header accepted (numpy's own limit for safe loading is 10000 bytes). */
#define DR3I_NPY_MAX_HEADER (1u << 20)
/* Bytes that always suffice to learn the full header length: magic, version, length. */
#define DR3I_NPY_PREAMBLE 12

typedef struct dr3i_npy_header {
    int version; /* 1, 2 or 3 */
    dr3i_npy_dtype dtype;
    size_t elem; /* bytes per element */
    size_t ndim;
    size_t shape[DR3I_NPY_MAX_DIMS];
    size_t count;       /* product of shape (1 for a 0-d array) */
    size_t data_offset; /* bytes before the data: preamble + header */
    size_t data_bytes;  /* count * elem */
} dr3i_npy_header;

/* From the first `len` bytes of a file (len >= 10; 12 for versions 2 and 3), the offset of
 * the data, i.e. how many bytes dr3i_npy_parse needs. name and who go into messages. */
dr3_status dr3i_npy_data_offset(const void *buf, size_t len, size_t *offset, const char *name,
                                const char *who);

/* Parses a complete header (buf holds at least its data_offset bytes; more is fine).
 * Strict: magic, version 1.0/2.0/3.0, a dict with exactly 'descr', 'fortran_order' and
 * 'shape', a supported little-endian dtype, C order, shape sizes without overflow.
 * Errors: DR3_ERR_FORMAT, DR3_ERR_UNSUPPORTED, DR3_ERR_OVERFLOW, each naming `name`. */
dr3_status dr3i_npy_parse(const void *buf, size_t len, dr3i_npy_header *h, const char *name,
                          const char *who);

/* Writes a version 1.0 header (2.0 if it would not fit) for a C-order array, padded so the
 * data starts at a multiple of 64 bytes. cap >= 256 always suffices for <= 8 dims. */
dr3_status dr3i_npy_write_header(char *buf, size_t cap, dr3i_npy_dtype dtype, size_t ndim,
                                 const size_t *shape, size_t *len);

/* Element size of a dtype. */
size_t dr3i_npy_elem(dr3i_npy_dtype dtype);

#endif
