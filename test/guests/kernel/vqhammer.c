/* vqhammer64: a hostile test guest for kvmdbg's virtio-mmio devices
 * (0xFEB00000, one 0x200-byte window every 4 KiB: virtio-blk for each --disk,
 * then virtio-rng). Modes, by cmdline word:
 *
 *   vq=N seed=S [wrap=B]   N random and adversarial operations:
 *     - register reads/writes at random offsets, widths 1/2/4/8, any value
 *     - configuration-space writes at every offset (0x100-0x1FF) in turn
 *     - queue set-ups out of range: QueueSel past the queues, QueueNum 0,
 *       max+1, 0xFFFF, 2^32-1; ring addresses misaligned, outside RAM,
 *       across the end of RAM, in the 640 KiB hole, in MMIO; then QueueReady
 *     - notifies on queues that do not exist
 *     - descriptor chains: self loops and cycles, next out of range, buffers
 *       outside RAM / across its end / across the 640 KiB hole, huge
 *       lengths, readable after writable, INDIRECT with bad lengths, outside
 *       RAM, nested, with NEXT; heads out of range; the available index far
 *       ahead or wrapped back; blk requests past the disk's end (also
 *       crossing it), huge sectors, odd lengths, unknown types, no status
 *     - valid requests in between: blk writes/reads of the scratch sectors
 *       0-7 (checked against what was written), flushes, GET_ID; rng reads.
 *       On a device that was set up and not broken since, each must succeed.
 *     Then B batches (default 1030) of 64 rng requests: the 16-bit available
 *     and used indices wrap; then a clean set-up of every device: blk writes,
 *     flushes and reads back sectors 0-7 and reads its id; rng fills a buffer.
 *     The disk is only ever written at sectors 0-7 by a valid request: the
 *     test checks the rest of the image (and its size) did not change.
 *   diskwrite              the SIGKILL test's writer: writes sectors 0-15 with
 *     a pattern, flushes, prints "flushed 16", then rewrites sectors 16-31
 *     forever (printing "writing" once), never flushing them.
 *
 * Output (vq mode):
 *   kvmdbg vqhammer64 (<protocol>)
 *   virtio: blk 0xfeb00000 (C sectors), rng 0xfeb01000
 *   vqhammer: N ops, seed S
 *   vqhammer done: regs R, config C, queue Q, notify B, chains K, valid V, resets X, broken D
 *   wrap: W requests, used idx U
 *   virtio clean: blk ok, rng ok
 *   fib(20) = 6765
 *   checksum = 0xa7ecfaa9
 *   vqhammer ok          (or "vqhammer FAILED: <why>")
 */
#include "io.h"
#include "lib.h"
#include "hammer-common.h"

/* virtio-mmio registers (virtio 1.x, 4.2.2) */
#define VIRTIO_BASE      0xFEB00000ull
#define VIRTIO_STRIDE    0x1000ull
#define VIRTIO_SLOTS     8
#define R_MAGIC          0x000
#define R_DEVICE_ID      0x008
#define R_DRV_FEATURES   0x020
#define R_DRV_FEAT_SEL   0x024
#define R_QUEUE_SEL      0x030
#define R_QUEUE_NUM_MAX  0x034
#define R_QUEUE_NUM      0x038
#define R_QUEUE_READY    0x044
#define R_QUEUE_NOTIFY   0x050
#define R_INT_ACK        0x064
#define R_STATUS         0x070
#define R_DESC_LO        0x080
#define R_DESC_HI        0x084
#define R_DRIVER_LO      0x090
#define R_DRIVER_HI      0x094
#define R_DEVICE_LO      0x0a0
#define R_DEVICE_HI      0x0a4
#define R_CONFIG         0x100
#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
#define F_INDIRECT (1u << 28)    /* low word */
#define F_VERSION_1 1u           /* high word: bit 32 */
#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define SCRATCH_SECTORS 8

struct vdesc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; } __attribute__((packed));

/* Everything the devices may legitimately touch is in the arena; the canary is elsewhere. */
#define ARENA_SIZE (256 * 1024)
static uint8_t arena[ARENA_SIZE] __attribute__((aligned(4096)));
#define A_DESC     0x00000   /* up to 256 descriptors */
#define A_AVAIL    0x01000
#define A_USED     0x02000
#define A_INDIRECT 0x03000
#define A_HEADER   0x04000   /* 16-byte request headers, one per slot */
#define A_STATUS   0x05000
#define A_DATA     0x08000   /* data buffers, 4 KiB each */
#define A_DATA_SLOTS ((ARENA_SIZE - A_DATA) / 4096)

#define CANARY_WORDS 8192
static uint64_t canary[CANARY_WORDS];
static uint8_t scratch[SCRATCH_SECTORS][512];   /* what the disk holds at sectors 0-7, once written */
static uint8_t scratch_known[SCRATCH_SECTORS];

struct boot_info boot;

/* ---- devices ---- */

struct dev {
	uint64_t base;
	uint32_t id;          /* 2 blk, 4 rng */
	uint32_t qmax;
	uint32_t qsize;       /* what we set up */
	uint16_t avail_idx;   /* ours */
	uint16_t used_seen;
	int live;             /* set up and, as far as we know, not broken since */
	uint64_t capacity;    /* blk: sectors */
};
static struct dev devs[VIRTIO_SLOTS];
static int ndevs;
static struct dev *blk, *rngdev;

static uint32_t r32(struct dev *d, uint32_t off) { return *(volatile uint32_t *)(uintptr_t)(d->base + off); }
static void w32(struct dev *d, uint32_t off, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(d->base + off) = v; }

static volatile struct vdesc *desc_table(void) { return (volatile struct vdesc *)(arena + A_DESC); }
static volatile uint16_t *avail_ring(void) { return (volatile uint16_t *)(arena + A_AVAIL); }   /* flags, idx, ring[] */
static uint16_t used_idx(void) { return *(volatile uint16_t *)(arena + A_USED + 2); }
static uint64_t phys(const void *p) { return (uint64_t)(uintptr_t)p; }   /* identity-mapped */

static uint32_t stats_regs, stats_config, stats_queue, stats_notify, stats_chains, stats_valid, stats_resets, stats_broken;
static int failed;
static char fail_why[120];

static void fail(const char *why, uint64_t a, uint64_t b)
{
	if (!failed) ksnprintf(fail_why, sizeof fail_why, "%s (0x%llx, 0x%llx)", why, (unsigned long long)a, (unsigned long long)b);
	failed++;
}

static void discover(void)
{
	for (int i = 0; i < VIRTIO_SLOTS; i++) {
		struct dev d = { .base = VIRTIO_BASE + VIRTIO_STRIDE * (uint64_t)i };
		if (r32(&d, R_MAGIC) != 0x74726976u) continue;
		d.id = r32(&d, R_DEVICE_ID);
		if (d.id != 2 && d.id != 4) continue;
		devs[ndevs] = d;
		struct dev *p = &devs[ndevs++];
		w32(p, R_STATUS, 0);
		w32(p, R_QUEUE_SEL, 0);
		p->qmax = r32(p, R_QUEUE_NUM_MAX);
		if (p->id == 2 && !blk) {
			p->capacity = r32(p, R_CONFIG) | (uint64_t)r32(p, R_CONFIG + 4) << 32;
			blk = p;
		}
		if (p->id == 4 && !rngdev) rngdev = p;
	}
}

/* The whole driver handshake and queue 0 in the arena; returns 1 when the device took it. */
static int setup(struct dev *d, uint32_t qsize, int indirect)
{
	/* The arena's rings are shared: one device at a time has a queue (the others are reset, so
	 * a stray notify cannot make them walk another device's chains). */
	for (int i = 0; i < ndevs; i++) {
		devs[i].live = 0;
		if (&devs[i] != d) w32(&devs[i], R_STATUS, 0);
	}
	w32(d, R_STATUS, 0);
	w32(d, R_STATUS, S_ACK);
	w32(d, R_STATUS, S_ACK | S_DRIVER);
	w32(d, R_DRV_FEAT_SEL, 0);
	w32(d, R_DRV_FEATURES, indirect ? F_INDIRECT : 0);
	w32(d, R_DRV_FEAT_SEL, 1);
	w32(d, R_DRV_FEATURES, F_VERSION_1);
	w32(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(r32(d, R_STATUS) & S_FEATURES_OK)) { fail("FEATURES_OK refused on a clean handshake", d->base, 0); return 0; }
	memset(arena + A_AVAIL, 0, 0x2000);   /* avail and used rings */
	w32(d, R_QUEUE_SEL, 0);
	w32(d, R_QUEUE_NUM, qsize);
	w32(d, R_DESC_LO, (uint32_t)phys(arena + A_DESC));
	w32(d, R_DESC_HI, 0);
	w32(d, R_DRIVER_LO, (uint32_t)phys(arena + A_AVAIL));
	w32(d, R_DRIVER_HI, 0);
	w32(d, R_DEVICE_LO, (uint32_t)phys(arena + A_USED));
	w32(d, R_DEVICE_HI, 0);
	w32(d, R_QUEUE_READY, 1);
	w32(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	uint32_t st = r32(d, R_STATUS);
	if (!r32(d, R_QUEUE_READY) || (st & S_NEEDS_RESET)) { fail("a clean queue set-up was refused", d->base, st); return 0; }
	d->qsize = qsize;
	d->avail_idx = 0;
	d->used_seen = 0;
	d->live = 1;
	stats_resets++;
	return 1;
}

/* Makes `head` available and notifies queue 0. */
static void offer(struct dev *d, uint16_t head)
{
	volatile uint16_t *av = avail_ring();
	av[2 + d->avail_idx % d->qsize] = head;
	d->avail_idx++;
	av[1] = d->avail_idx;
	w32(d, R_QUEUE_NOTIFY, 0);
	stats_notify++;
}

static void set_desc(uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t nxt)
{
	volatile struct vdesc *t = desc_table();
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = nxt;
}

static uint8_t *data_slot(uint32_t i) { return arena + A_DATA + 4096 * (i % A_DATA_SLOTS); }

static void header(uint32_t slot, uint32_t type, uint64_t sector)
{
	volatile uint32_t *h = (volatile uint32_t *)(arena + A_HEADER + 16 * (slot & 255));
	h[0] = type;
	h[1] = 0;
	h[2] = (uint32_t)sector;
	h[3] = (uint32_t)(sector >> 32);
}

/* A valid blk request (header, `sectors` x 512 of data unless 0, status) at descriptors 0-2; returns the status
 * byte or -1 when the device did not answer (used index unchanged). */
static int blk_request(uint32_t type, uint64_t sector, uint8_t *data, uint32_t bytes)
{
	struct dev *d = blk;
	volatile uint8_t *status = arena + A_STATUS;
	*status = 0xff;
	header(0, type, sector);
	uint16_t before = used_idx();
	set_desc(0, phys(arena + A_HEADER), 16, D_NEXT, 1);
	if (bytes) {
		set_desc(1, phys(data), bytes, D_NEXT | (type == BLK_T_OUT ? 0 : D_WRITE), 2);
		set_desc(2, phys((const void *)status), 1, D_WRITE, 0);
	} else {
		set_desc(1, phys((const void *)status), 1, D_WRITE, 0);
	}
	offer(d, 0);
	if (used_idx() != (uint16_t)(before + 1)) return -1;
	return *status;
}

/* One valid operation on a live device, checked. */
static void valid_op(struct dev *d)
{
	stats_valid++;
	if (d == rngdev) {
		uint8_t *buf = data_slot(0);
		memset(buf, 0, 64);
		uint16_t before = used_idx();
		set_desc(0, phys(buf), 64, D_WRITE, 0);
		offer(d, 0);
		if (used_idx() != (uint16_t)(before + 1)) { fail("a valid rng request was not answered", d->base, before); return; }
		return;
	}
	uint32_t s = (uint32_t)(rng_next() % SCRATCH_SECTORS);
	uint8_t *buf = data_slot(1);
	switch (rng_next() % 4) {
	case 0: {   /* write a sector of scratch */
		for (int i = 0; i < 512; i++) buf[i] = (uint8_t)rng_next();
		int st = blk_request(BLK_T_OUT, s, buf, 512);
		if (st != 0) { fail("a valid blk write failed", s, (uint64_t)st); return; }
		memcpy(scratch[s], buf, 512);
		scratch_known[s] = 1;
		break;
	}
	case 1: {   /* read it back */
		memset(buf, 0x5a, 512);
		int st = blk_request(BLK_T_IN, s, buf, 512);
		if (st != 0) { fail("a valid blk read failed", s, (uint64_t)st); return; }
		if (scratch_known[s] && memcmp(buf, scratch[s], 512) != 0) fail("a blk read returned other data than was written", s, 0);
		break;
	}
	case 2: {
		int st = blk_request(BLK_T_FLUSH, 0, 0, 0);
		if (st != 0) fail("a valid blk flush failed", 0, (uint64_t)st);
		break;
	}
	default: {
		memset(buf, 0, 20);
		int st = blk_request(BLK_T_GET_ID, 0, buf, 20);
		if (st != 0 || memcmp(buf, "kvmdbg", 6) != 0) fail("GET_ID failed", (uint64_t)st, buf[0]);
	}
	}
}

/* Addresses a buffer must never be: outside RAM, across its end, across the 640 KiB hole, in MMIO. */
static uint64_t ram_top;
static uint64_t bad_addr(void)
{
	switch (rng_next() % 10) {
	case 0: return ram_top;
	case 1: return ram_top - 8;                 /* with a longer length: across the end */
	case 2: return 0x9F000;                     /* with 8 KiB: across the 640 KiB hole */
	case 3: return 0xA0000 + (rng_next() % 0x60000);
	case 4: return VIRTIO_BASE;
	case 5: return 0xFEC00000;                  /* IOAPIC */
	case 6: return 0x100000000ull + (rng_next() & 0xffffffffull);
	case 7: return 0xFFFFFFFFFFFFF000ull;
	case 8: return 1ull << 63;
	default: return ram_top + (rng_next() % 0x40000000ull);
	}
}

static uint32_t huge_len(void)
{
	static const uint32_t lens[] = { 0xFFFFFFFFu, 0x80000000u, 0x10000000u, 0x4000001u, 0x2000u, 0x1001u };
	return lens[rng_next() % (sizeof(lens) / sizeof(lens[0]))];
}

/* One hostile chain on a live device; `d->avail_idx` follows what we offered. */
static void attack_chain(struct dev *d)
{
	uint32_t q = d->qsize;
	uint16_t h = (uint16_t)(rng_next() % q);
	uint8_t *buf = data_slot(2 + (uint32_t)(rng_next() % 8));
	uint64_t b = phys(buf);
	volatile uint16_t *av = avail_ring();
	volatile struct vdesc *ind = (volatile struct vdesc *)(arena + A_INDIRECT);
	stats_chains++;
	switch (rng_next() % 14) {
	case 0:   /* self loop */
		set_desc(h, b, 16, D_NEXT | D_WRITE, h);
		break;
	case 1:   /* a cycle through two descriptors */
		set_desc(h, b, 16, D_NEXT | D_WRITE, (uint16_t)((h + 1) % q));
		set_desc((h + 1) % q, b, 16, D_NEXT | D_WRITE, h);
		break;
	case 2:   /* next out of range */
		set_desc(h, b, 16, D_NEXT | D_WRITE, (uint16_t)(q + rng_next() % 0x10000));
		break;
	case 3: { /* a buffer outside RAM (or across its end / the hole) */
		uint32_t len = 0x2000 + (uint32_t)(rng_next() % 0x1000);
		set_desc(h, bad_addr(), len, (uint16_t)(rng_next() & 1 ? D_WRITE : 0), 0);
		break;
	}
	case 4:   /* a huge length */
		set_desc(h, b, huge_len(), D_WRITE, 0);
		break;
	case 5:   /* readable after writable */
		header(h, BLK_T_IN, 0);
		set_desc(h, b, 512, D_NEXT | D_WRITE, (uint16_t)((h + 1) % q));
		set_desc((h + 1) % q, phys(arena + A_HEADER + 16 * (h & 255)), 16, 0, 0);
		break;
	case 6: { /* INDIRECT: bad lengths, outside RAM, with NEXT */
		for (int i = 0; i < 4; i++) { ind[i].addr = b; ind[i].len = 8; ind[i].flags = D_WRITE | (i < 3 ? D_NEXT : 0); ind[i].next = (uint16_t)(i + 1); }
		static const uint32_t lens[] = { 0, 15, 17, 0xFFFFFFF0u, 16 * 2000 };
		uint64_t r = rng_next();
		uint32_t len = (r & 3) == 0 ? 64 : lens[(r >> 2) % 5];
		uint64_t at = (r >> 8) % 3 == 0 ? bad_addr() : phys((const void *)ind);
		set_desc(h, at, len, (uint16_t)(D_INDIRECT | ((r >> 16) & 1 ? D_NEXT : 0)), 0);
		break;
	}
	case 7:   /* INDIRECT nested, and a loop inside an indirect table */
		ind[0].addr = phys((const void *)ind); ind[0].len = 64; ind[0].flags = D_INDIRECT; ind[0].next = 0;
		if (rng_next() & 1) { ind[0].addr = b; ind[0].len = 8; ind[0].flags = D_NEXT | D_WRITE; ind[0].next = 0; }
		set_desc(h, phys((const void *)ind), 64, D_INDIRECT, 0);
		break;
	case 8:   /* a head out of range */
		av[2 + d->avail_idx % q] = (uint16_t)(q + rng_next() % 0x10000);
		d->avail_idx++;
		av[1] = d->avail_idx;
		w32(d, R_QUEUE_NOTIFY, 0);
		stats_notify++;
		return;
	case 9: { /* the available index far ahead, or wrapped back */
		static const uint16_t jumps[] = { 0x8000, 0xFFFF, 0x7FFF };
		uint64_t r = rng_next();
		uint16_t idx = (r & 1) ? (uint16_t)(d->avail_idx + q + 1 + (r >> 8) % 0x100) : (uint16_t)(d->avail_idx + jumps[(r >> 1) % 3]);
		av[1] = idx;
		w32(d, R_QUEUE_NOTIFY, 0);
		stats_notify++;
		d->avail_idx = idx;
		return;
	}
	case 10:
	case 11: { /* blk: well-formed chain, hostile request */
		static const uint32_t types[] = { BLK_T_IN, BLK_T_OUT, BLK_T_FLUSH, BLK_T_GET_ID, 3, 0xFFFFFFFFu, 2, 11 };
		uint64_t r = rng_next();
		uint32_t type = types[r % 8];
		uint64_t cap = d->capacity;
		uint64_t sector;
		switch ((r >> 4) % 6) {
		case 0: sector = cap; break;
		case 1: sector = cap ? cap - 1 : 0; break;   /* with 1 KiB (forced below): across the end */
		case 2: sector = ~0ull; break;
		case 3: sector = 1ull << 63; break;
		case 4: sector = cap + rng_next() % 100000; break;
		default: sector = (1ull << 53) + 1; break;
		}
		uint32_t len = ((r >> 8) & 1) ? 1024 : (uint32_t)(1 + (r >> 12) % 4096);   /* often not whole sectors */
		if (len > 4096) len = 4096;
		if (sector == cap - 1) len = 1024;   /* 512 would be a valid request for the last sector */
		header(h, type, sector);
		uint16_t n1 = (uint16_t)((h + 1) % q), n2 = (uint16_t)((h + 2) % q);
		set_desc(h, phys(arena + A_HEADER + 16 * (h & 255)), ((r >> 20) & 7) == 0 && type != BLK_T_OUT ? 8 : 16, D_NEXT, n1);   /* an 8-byte header: the sector comes from the data */
		if (((r >> 24) & 7) == 0) {   /* no status byte: everything device-readable */
			set_desc(n1, b, len, 0, 0);
		} else {
			set_desc(n1, b, len, (uint16_t)(D_NEXT | (type == BLK_T_OUT ? 0 : D_WRITE)), n2);
			set_desc(n2, phys(arena + A_STATUS + (h & 255)), 1, D_WRITE, 0);
		}
		break;
	}
	default:  /* a valid request, checked */
		valid_op(d);
		return;
	}
	offer(d, h);
}

static void random_register(struct dev *d)
{
	uint64_t r = rng_next();
	int size = 1 << (r % 4);
	uint32_t off = (uint32_t)((r >> 8) % 0x200) & ~(uint32_t)(size - 1);
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(d->base + off);
	uint64_t v = rng_next();
	stats_regs++;
	d->live = 0;   /* anything may have changed */
	if ((r >> 20) & 1) {
		switch (size) {
		case 1: (void)*p; break;
		case 2: (void)*(volatile uint16_t *)p; break;
		case 4: (void)*(volatile uint32_t *)p; break;
		default: (void)*(volatile uint64_t *)p; break;
		}
		return;
	}
	switch (size) {
	case 1: *p = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)p = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)p = (uint32_t)v; break;
	default: *(volatile uint64_t *)p = v; break;
	}
}

static void config_write(struct dev *d, uint64_t op)
{
	static const int sizes[3] = { 1, 2, 4 };
	int size = sizes[rng_next() % 3];
	uint32_t off = R_CONFIG + (uint32_t)(op % 0x100);
	off &= ~(uint32_t)(size - 1);
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(d->base + off);
	uint32_t v = (uint32_t)rng_next();
	if (size == 1) *p = (uint8_t)v;
	else if (size == 2) *(volatile uint16_t *)p = (uint16_t)v;
	else *(volatile uint32_t *)p = v;
	stats_config++;
	if (d == blk && (r32(d, R_CONFIG) | (uint64_t)r32(d, R_CONFIG + 4) << 32) != d->capacity) fail("a config write changed the capacity", d->capacity, 0);
}

static void bad_queue(struct dev *d)
{
	static const uint32_t sels[] = { 0, 0, 1, 2, 0xFFFF, 0xFFFFFFFFu };
	static const uint32_t nums[] = { 0, 0x10000, 0xFFFF, 0xFFFFFFFFu, 3 };
	uint64_t r = rng_next();
	stats_queue++;
	d->live = 0;
	w32(d, R_STATUS, 0);
	w32(d, R_QUEUE_SEL, sels[r % 6]);
	uint32_t num = nums[(r >> 4) % 5];
	if (num == 3) num = d->qmax + 1;
	if ((r >> 8) & 1) num = 1 + (uint32_t)(rng_next() % d->qmax);   /* a valid size, bad addresses below */
	w32(d, R_QUEUE_NUM, num);
	uint64_t addrs[3] = { phys(arena + A_DESC), phys(arena + A_AVAIL), phys(arena + A_USED) };
	int which = (int)((r >> 12) % 3);
	switch ((r >> 16) % 4) {
	case 0: addrs[which] += 1 + which; break;       /* misaligned */
	case 1: addrs[which] = bad_addr(); break;
	case 2: addrs[which] = ram_top - 8; break;     /* across the end */
	default: addrs[which] = 0x9FFF0; break;        /* across the 640 KiB hole */
	}
	w32(d, R_DESC_LO, (uint32_t)addrs[0]);
	w32(d, R_DESC_HI, (uint32_t)(addrs[0] >> 32));
	w32(d, R_DRIVER_LO, (uint32_t)addrs[1]);
	w32(d, R_DRIVER_HI, (uint32_t)(addrs[1] >> 32));
	w32(d, R_DEVICE_LO, (uint32_t)addrs[2]);
	w32(d, R_DEVICE_HI, (uint32_t)(addrs[2] >> 32));
	w32(d, R_QUEUE_READY, 1);
	w32(d, R_QUEUE_NOTIFY, (uint32_t)rng_next());
	w32(d, R_INT_ACK, 0xFFFFFFFFu);
}

static void hammer(uint32_t n)
{
	for (uint64_t op = 0; op < n; op++) {
		/* Stay on one device for a while: setting up one resets the others (shared rings). */
		static struct dev *d;
		if (!d || rng_next() % 32 == 0) d = &devs[rng_next() % (uint64_t)ndevs];
		uint64_t r = rng_next() % 16;
		if (r == 0) { random_register(d); continue; }
		if (r == 1) { config_write(d, op); continue; }
		if (r == 2) { bad_queue(d); continue; }
		if (r == 3) { stats_notify++; w32(d, R_QUEUE_NOTIFY, 1 + (uint32_t)(rng_next() % 0x10000)); continue; }
		/* chains need a live device */
		if (d->live && (r32(d, R_STATUS) & S_NEEDS_RESET)) { d->live = 0; stats_broken++; }
		if (!d->live) {
			/* at least 3: a valid blk request takes descriptors 0-2 */
			uint32_t qsize = (rng_next() & 1) ? d->qmax : 3 + (uint32_t)(rng_next() % (d->qmax - 2));
			if (qsize > 256) qsize = 256;
			if (!setup(d, qsize, (int)(rng_next() & 1))) return;
		}
		attack_chain(d);
	}
}

/* The 16-bit indices wrap: batches of 64 rng requests, each batch checked. */
static void wrap(uint32_t batches)
{
	struct dev *d = rngdev;
	if (!setup(d, 64, 0)) return;
	uint32_t done = 0;
	for (uint32_t b = 0; b < batches && !failed; b++) {
		volatile uint16_t *av = avail_ring();
		for (uint16_t i = 0; i < 64; i++) {
			set_desc(i, phys(data_slot(i % 8)) + 8 * (i / 8), 8, D_WRITE, 0);
			av[2 + (uint16_t)(d->avail_idx + i) % 64] = i;
		}
		d->avail_idx += 64;
		av[1] = d->avail_idx;
		w32(d, R_QUEUE_NOTIFY, 0);
		done += 64;
		if (used_idx() != d->avail_idx) fail("rng batch: the used index did not follow the available index", used_idx(), d->avail_idx);
	}
	kprintf("wrap: %u requests, used idx %u\n", done, used_idx());
}

static void clean(void)
{
	int ok_blk = 1, ok_rng = 1;
	if (blk) {
		ok_blk = setup(blk, 16, 0);
		uint8_t *buf = data_slot(3);
		for (uint32_t s = 0; ok_blk && s < SCRATCH_SECTORS; s++) {
			for (int i = 0; i < 512; i++) buf[i] = (uint8_t)(s * 31 + (uint32_t)i);
			if (blk_request(BLK_T_OUT, s, buf, 512) != 0) ok_blk = 0;
		}
		if (ok_blk && blk_request(BLK_T_FLUSH, 0, 0, 0) != 0) ok_blk = 0;
		for (uint32_t s = 0; ok_blk && s < SCRATCH_SECTORS; s++) {
			memset(buf, 0, 512);
			if (blk_request(BLK_T_IN, s, buf, 512) != 0) ok_blk = 0;
			for (int i = 0; ok_blk && i < 512; i++) if (buf[i] != (uint8_t)(s * 31 + (uint32_t)i)) ok_blk = 0;
		}
		memset(buf, 0, 20);
		if (ok_blk && (blk_request(BLK_T_GET_ID, 0, buf, 20) != 0 || memcmp(buf, "kvmdbg", 6) != 0)) ok_blk = 0;
	}
	if (rngdev) {
		ok_rng = setup(rngdev, 8, 1);
		uint8_t *buf = data_slot(4);
		memset(buf, 0, 256);
		uint16_t before = used_idx();
		set_desc(0, phys(buf), 256, D_WRITE, 0);
		if (ok_rng) offer(rngdev, 0);
		int nonzero = 0;
		for (int i = 0; i < 256; i++) nonzero += buf[i] != 0;
		if (!ok_rng || used_idx() != (uint16_t)(before + 1) || nonzero < 200) ok_rng = 0;
	}
	kprintf("virtio clean: blk %s, rng %s\n", blk ? (ok_blk ? "ok" : "FAILED") : "absent", rngdev ? (ok_rng ? "ok" : "FAILED") : "absent");
	if (!ok_blk || !ok_rng) fail("a clean device did not work after the hammering", (uint64_t)ok_blk, (uint64_t)ok_rng);
}

static void __attribute__((noreturn)) diskwrite(void)
{
	if (!blk) { kputs("diskwrite: no virtio-blk\n"); machine_exit(3); }
	if (!setup(blk, 16, 0)) { kprintf("diskwrite: %s\n", fail_why); machine_exit(3); }
	uint8_t *buf = data_slot(0);
	for (uint32_t s = 0; s < 16; s++) {
		for (int i = 0; i < 512; i++) buf[i] = (uint8_t)(s * 7 + (uint32_t)i * 13 + 1);
		if (blk_request(BLK_T_OUT, s, buf, 512) != 0) { kputs("diskwrite: write failed\n"); machine_exit(3); }
	}
	if (blk_request(BLK_T_FLUSH, 0, 0, 0) != 0) { kputs("diskwrite: flush failed\n"); machine_exit(3); }
	kputs("flushed 16\n");
	kputs("writing\n");
	for (uint32_t round = 0;; round++) {
		for (uint32_t s = 16; s < 32; s++) {
			for (int i = 0; i < 512; i++) buf[i] = (uint8_t)(round + s + (uint32_t)i);
			blk_request(BLK_T_OUT, s, buf, 512);
		}
	}
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg vqhammer64 (%s)\n", boot_protocol_name(boot.protocol));
	/* kvmdbg's map: 639 KiB low, the rest from 1 MiB: the top of RAM is ram_bytes + 385 KiB. */
	ram_top = boot.ram_bytes + (0x100000 - 0x9FC00);
	discover();
	kputs("virtio:");
	for (int i = 0; i < ndevs; i++) {
		if (devs[i].id == 2) kprintf(" blk 0x%llx (%llu sectors)", (unsigned long long)devs[i].base, (unsigned long long)devs[i].capacity);
		else kprintf(" rng 0x%llx", (unsigned long long)devs[i].base);
		kputs(i + 1 < ndevs ? "," : "");
	}
	kputs("\n");
	if (cmdline_has(boot.cmdline, "diskwrite")) diskwrite();
	if (!ndevs) { kputs("vqhammer FAILED: no virtio devices\n"); machine_exit(3); }

	uint32_t n = 1000, seed = 1, batches = 1030;
	cmdline_uint(boot.cmdline, "vq", &n);
	cmdline_uint(boot.cmdline, "seed", &seed);
	cmdline_uint(boot.cmdline, "wrap", &batches);
	kprintf("vqhammer: %u ops, seed %u\n", n, seed);
	rng_seed(seed);
	for (int i = 0; i < CANARY_WORDS; i++) canary[i] = 0x7671686d6d657200ull ^ (uint64_t)i * 0x100000001ull;

	hammer(n);
	kprintf("vqhammer done: regs %u, config %u, queue %u, notify %u, chains %u, valid %u, resets %u, broken %u\n",
		stats_regs, stats_config, stats_queue, stats_notify, stats_chains, stats_valid, stats_resets, stats_broken);
	if (rngdev) wrap(batches);
	clean();
	int bad = 0;
	for (int i = 0; i < CANARY_WORDS; i++)
		if (canary[i] != (0x7671686d6d657200ull ^ (uint64_t)i * 0x100000001ull)) bad++;
	if (bad) fail("canary words changed", (uint64_t)bad, 0);
	uint32_t f = fib(20), c = compute_checksum(checksum_data, sizeof(checksum_data));
	kprintf("fib(20) = %u\n", f);
	kprintf("checksum = 0x%08x\n", c);
	if (f != 6765 || c != 0xa7ecfaa9u) fail("the self-check is wrong", f, c);
	if (failed) kprintf("vqhammer FAILED: %s; %d failures\n", fail_why, failed);
	else kputs("vqhammer ok\n");
	machine_finish(boot.cmdline);
}
