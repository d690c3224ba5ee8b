/* Ring 3 for a 64-bit test kernel (demo/user-mode.c, demo/user-mode-call.S). */
#ifndef KVMDBG_GUEST_USER_MODE_H
#define KVMDBG_GUEST_USER_MODE_H

/* Our own GDT (with ring-3 segments and a TSS), IDT (the #UD gate) and page
 * tables mapping the first 4 GiB 1:1 for ring 3. Call once, at ring 0. */
void user_mode_setup(void);

/* Runs fn() at CPL 3 on the given stack; returns when fn returns. fn may
 * only compute and touch memory: no ports, no privileged instructions. */
void user_mode_call(void (*fn)(void), void *user_stack_top);

#endif
