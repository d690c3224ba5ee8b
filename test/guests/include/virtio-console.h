/* A polling virtio-console driver for the 64-bit test kernels (demo/virtio-console.c). */
#ifndef KVMDBG_GUEST_VIRTIO_CONSOLE_H
#define KVMDBG_GUEST_VIRTIO_CONSOLE_H

#include <stddef.h>

/* Finds and starts the kvmdbg machine's virtio console; 0 if there is none. */
int virtio_console_open(void);

/* Writes n bytes (at most 4 GiB); returns 1 once the device has taken them,
 * 0 if there is no console or the device gave up (nothing was written). */
int virtio_console_write(const char *s, size_t n);

#endif
