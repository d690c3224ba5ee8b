/* A polling virtio-console driver (virtio 1.x over virtio-mmio, version 2),
 * transmit only: the demo hands its whole screen to the VMM in one queue
 * notification instead of one port write per byte. Found by scanning the
 * kvmdbg machine's virtio-mmio windows; elsewhere (QEMU's q35 has nothing
 * there) virtio_console_open() says no and the demo uses the serial port. */
#include <stddef.h>
#include <stdint.h>
#include "io.h"
#include "virtio-console.h"

#define VIRTIO_MMIO_BASE     0xfeb00000u   /* vmm/virtio/layout.ts */
#define VIRTIO_MMIO_STRIDE   0x1000u
#define VIRTIO_MMIO_SLOTS    8
#define VIRTIO_MAGIC         0x74726976u   /* "virt" */
#define VIRTIO_ID_CONSOLE    3

#define REG_MAGIC            0x000
#define REG_VERSION          0x004
#define REG_DEVICE_ID        0x008
#define REG_DEVICE_FEATURES  0x010
#define REG_DEVICE_FEAT_SEL  0x014
#define REG_DRIVER_FEATURES  0x020
#define REG_DRIVER_FEAT_SEL  0x024
#define REG_QUEUE_SEL        0x030
#define REG_QUEUE_NUM_MAX    0x034
#define REG_QUEUE_NUM        0x038
#define REG_QUEUE_READY      0x044
#define REG_QUEUE_NOTIFY     0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK    0x064
#define REG_STATUS           0x070
#define REG_QUEUE_DESC       0x080
#define REG_QUEUE_DRIVER     0x090
#define REG_QUEUE_DEVICE     0x0a0

#define STATUS_ACKNOWLEDGE   1
#define STATUS_DRIVER        2
#define STATUS_DRIVER_OK     4
#define STATUS_FEATURES_OK   8
#define STATUS_DEVICE_NEEDS_RESET 0x40
#define FEATURE_VERSION_1_HI 1             /* bit 32: bit 0 of the second feature word */
#define TRANSMIT_QUEUE       1
#define QUEUE_SIZE           4

struct virtq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct virtq_avail { uint16_t flags, idx, ring[QUEUE_SIZE], used_event; };
struct virtq_used_elem { uint32_t id, len; };
struct virtq_used { uint16_t flags, idx; struct virtq_used_elem ring[QUEUE_SIZE]; uint16_t avail_event; };

static struct virtq_desc desc[QUEUE_SIZE] __attribute__((aligned(16)));
static struct virtq_avail avail __attribute__((aligned(2)));
static volatile struct virtq_used used __attribute__((aligned(4)));
static uintptr_t base;

static uint32_t reg_read(uint32_t off) { return mmio_read32(base + off); }
static void reg_write(uint32_t off, uint32_t v) { mmio_write32(base + off, v); }

static void set_address(uint32_t off, const volatile void *p)
{
	reg_write(off, (uint32_t)(uintptr_t)p);
	reg_write(off + 4, (uint32_t)((uint64_t)(uintptr_t)p >> 32));
}

static int find_console(void)
{
	for (uint32_t i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
		base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE;
		if (reg_read(REG_MAGIC) == VIRTIO_MAGIC && reg_read(REG_VERSION) == 2 &&
		    reg_read(REG_DEVICE_ID) == VIRTIO_ID_CONSOLE)
			return 1;
	}
	base = 0;
	return 0;
}

int virtio_console_open(void)
{
	if (!find_console())
		return 0;
	reg_write(REG_STATUS, 0);
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
	reg_write(REG_DEVICE_FEAT_SEL, 1);
	if (!(reg_read(REG_DEVICE_FEATURES) & FEATURE_VERSION_1_HI))
		goto fail;
	reg_write(REG_DRIVER_FEAT_SEL, 1);
	reg_write(REG_DRIVER_FEATURES, FEATURE_VERSION_1_HI);
	reg_write(REG_DRIVER_FEAT_SEL, 0);
	reg_write(REG_DRIVER_FEATURES, 0);
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(reg_read(REG_STATUS) & STATUS_FEATURES_OK))
		goto fail;
	reg_write(REG_QUEUE_SEL, TRANSMIT_QUEUE);
	if (reg_read(REG_QUEUE_NUM_MAX) < QUEUE_SIZE)
		goto fail;
	reg_write(REG_QUEUE_NUM, QUEUE_SIZE);
	set_address(REG_QUEUE_DESC, desc);
	set_address(REG_QUEUE_DRIVER, &avail);
	set_address(REG_QUEUE_DEVICE, &used);
	reg_write(REG_QUEUE_READY, 1);
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	return 1;
fail:
	reg_write(REG_STATUS, 0);
	base = 0;
	return 0;
}

int virtio_console_write(const char *s, size_t n)
{
	if (!base)
		return 0;
	uint16_t slot = avail.idx % QUEUE_SIZE;
	desc[slot] = (struct virtq_desc){ .addr = (uintptr_t)s, .len = (uint32_t)n };
	avail.ring[slot] = slot;
	__asm__ volatile("" ::: "memory");       /* the descriptor before the index (x86 keeps stores in order) */
	avail.idx++;
	__asm__ volatile("" ::: "memory");
	reg_write(REG_QUEUE_NOTIFY, TRANSMIT_QUEUE);
	while (used.idx != avail.idx) {
		if (reg_read(REG_STATUS) & STATUS_DEVICE_NEEDS_RESET) {
			reg_write(REG_STATUS, 0);
			base = 0;
			return 0;
		}
		cpu_relax();
	}
	reg_write(REG_INTERRUPT_ACK, reg_read(REG_INTERRUPT_STATUS));
	return 1;
}
