/**
 * Byte offsets of the exit buffer, mirroring native/src/exit_buffer.h (the
 * KVM tier tests catch a mismatch). Meaning of the u32 fields A-D and u64
 * fields X0-X2 per exit:
 *   io:        A direction (0 in, 1 out), B port, C size, D count; data = count*size bytes
 *   mmio:      A isWrite, C length, ADDR address (f64); data = length bytes
 *   debug:     A exception, X0 pc, X1 dr6, X2 dr7
 *   failEntry: A cpu, X0 hardware reason
 *   internal:  A suberror, B ndata, WORDS data
 *   system:    A type, B ndata, WORDS data
 *   hypercall: A longmode, X0 nr, X1 ret, WORDS args[6]
 *   rd/wrmsr:  A index, B reason, X0 data
 */
export const EXIT_REASON = 0;
export const EXIT_A = 4;
export const EXIT_B = 8;
export const EXIT_C = 12;
export const EXIT_D = 16;
export const EXIT_ADDR = 24;
export const EXIT_X0 = 32;
export const EXIT_X1 = 40;
export const EXIT_X2 = 48;
export const EXIT_WORDS = 56;
export const EXIT_DATA = 256;
export const EXIT_DATA_MAX = 4096;
export const EXIT_BUFFER_SIZE = EXIT_DATA + EXIT_DATA_MAX;
