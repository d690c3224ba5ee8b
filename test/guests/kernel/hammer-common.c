#include "hammer-common.h"

volatile uint32_t result_value;
const uint8_t checksum_data[6] = { 'k', 'v', 'm', 'd', 'b', 'g' };

static uint64_t rng_state;

void rng_seed(uint32_t seed)
{
	rng_state = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 17) ^ seed;
	if (!rng_state) rng_state = 1;
}

uint64_t rng_next(void)
{
	/* xorshift64* */
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

__attribute__((noinline)) uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) uint32_t compute_checksum(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	crc ^= 0xFFFFFFFFu;
	result_value = crc;
	return crc;
}
