#include "lib.h"
void kernel_main(void) { for (;;) ; }
