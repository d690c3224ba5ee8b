/* What the two hostile guests (hammer.c, vqhammer.c) share: their random
 * numbers and the self-check they print once the hammering is over, which
 * proves the VM still computes (main.c keeps its own fib and checksum: the
 * debugger tests set breakpoints on their source lines). */
#ifndef HAMMER_COMMON_H
#define HAMMER_COMMON_H
#include "lib.h"

extern volatile uint32_t result_value;
extern const uint8_t checksum_data[6];

void rng_seed(uint32_t seed);
uint64_t rng_next(void);
uint32_t fib(uint32_t n);
uint32_t compute_checksum(const uint8_t *data, size_t len);

#endif
