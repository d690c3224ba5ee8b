#include "io.h"
#include "lib.h"

void machine_exit(uint32_t code)
{
	outl(PORT_DEBUG_EXIT, code);
	halt_forever();
}

void machine_poweroff(void)
{
	outw(PORT_ACPI_PM1A_CNT, ACPI_PM1_SLP_EN_S5);
	halt_forever();
}

void machine_finish(const char *cmdline)
{
	uint32_t code;
	if (cmdline_uint(cmdline, "exit", &code))
		machine_exit(code);
	machine_poweroff();
}
