/* CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of every
 * libdr3 file format. Chain calls: crc = dr3i_crc32c(crc, part, len), starting from 0. */
#ifndef DR3_SRC_CORE_CHECKSUM_H
#define DR3_SRC_CORE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t dr3i_crc32c(uint32_t crc, const void *data, size_t len);

#endif
