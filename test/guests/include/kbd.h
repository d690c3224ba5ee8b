/* The PS/2 keyboard, polled through the i8042 (scan code set 1, the
 * controller's translation on, as after reset). */
#ifndef KVMDBG_GUEST_KBD_H
#define KVMDBG_GUEST_KBD_H
/* The next character typed: letters (Shift: capitals), digits, space and
 * the US punctuation keys, '\n' for Enter, '\b' for Backspace, 27 for Esc. */
char kbd_getchar(void);
/* Like kbd_getchar, but 0 at once when no key is waiting. */
char kbd_poll(void);
#endif
