/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF),
 * written bit by bit from the definition (RFC 3720, B.4), independently of src/core: tests
 * use it to craft files whose checksum is valid but whose contents are not. Check value:
 * crc32c_ref("123456789") == 0xE3069283. */
#ifndef DR3_TESTS_CRC32C_REF_H
#define DR3_TESTS_CRC32C_REF_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t crc32c_ref(const void *data, size_t len) {
    const unsigned char *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Rewrites the little-endian CRC-32C that ends a len-byte libdr3 blob or file. */
static inline void crc32c_ref_reseal(unsigned char *blob, size_t len) {
    uint32_t c = crc32c_ref(blob, len - 4);
    for (int k = 0; k < 4; k++) blob[len - 4 + (size_t)k] = (unsigned char)(c >> (8 * k));
}

#endif
