// SPDX-License-Identifier: GPL-2.0
/*
 * kvmdbg's test module, built with the small Linux (scripts/build-linux.mjs)
 * and loaded by the KVM tier's initramfs with insmod: a breakpoint set in
 * this file before boot is pending until insmod, then stops in
 * kvmdbg_mod_sum with rounds=10 (total = 385 at the bp:mod-return line),
 * and is pending again after rmmod. Lines marked bp:NAME are found by the
 * tests by their marker, never by number.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

struct kvmdbg_mod_probe {
	int id;
	unsigned long calls;
	const char *label;
};

static struct kvmdbg_mod_probe kvmdbg_mod_probe = { .id = 7, .label = "kvmdbg" };

static int rounds = 10;
module_param(rounds, int, 0444);

static noinline int kvmdbg_mod_sum(int n)
{
	int i, total = 0;

	for (i = 1; i <= n; i++)
		total += i * i;
	kvmdbg_mod_probe.calls++;
	return total; /* bp:mod-return */
}

static int __init kvmdbg_mod_init(void)
{
	int result = kvmdbg_mod_sum(rounds); /* bp:mod-init */

	pr_info("kvmdbg_mod: sum of squares to %d is %d\n", rounds, result);
	return 0;
}

static void __exit kvmdbg_mod_exit(void)
{
	pr_info("kvmdbg_mod: unloaded after %lu calls (sum %d)\n",
		kvmdbg_mod_probe.calls, kvmdbg_mod_sum(3));
}

module_init(kvmdbg_mod_init);
module_exit(kvmdbg_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kvmdbg's test module for module-aware debugging");
