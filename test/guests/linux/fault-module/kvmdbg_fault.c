// SPDX-License-Identifier: GPL-2.0
/*
 * kvmdbg's fault module, built against Debian's kernel headers
 * (scripts/debian-kernel.mjs): insmod with fault=1 makes its init WARN(),
 * fault=2 BUG(), so the Linux-aware stops ("Kernel WARN()", "Kernel BUG()",
 * the oops a BUG becomes) are tested on a distribution kernel. (kvmdbg's
 * small Linux has no CONFIG_BUG, where both would do nothing.) Lines marked
 * bp:NAME are found by the tests by their marker, never by number.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int fault;
module_param(fault, int, 0444);

static int __init kvmdbg_fault_init(void)
{
	pr_info("kvmdbg_fault: fault=%d\n", fault);
	WARN(fault == 1, "kvmdbg_fault: a warning asked for (fault=1)\n"); /* bp:fault-warn */
	BUG_ON(fault == 2); /* bp:fault-bug */
	return 0;
}

static void __exit kvmdbg_fault_exit(void)
{
}

module_init(kvmdbg_fault_init);
module_exit(kvmdbg_fault_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kvmdbg's test module: WARN() or BUG() on demand");
