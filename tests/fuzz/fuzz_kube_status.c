/* Fuzz the metav1.Status reader behind every error shown to users. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	int code = size ? 400 + data[0] % 120 : 500;

	kube_status_error(code, (const char *)data, size, err, sizeof(err));
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			__builtin_trap();	/* server bytes never reach the terminal raw */
	int exit_code = -1;
	if (kube_exit_status((const char *)data, size, &exit_code, err, sizeof(err)) == 0 &&
	    (exit_code < 0 || exit_code > 255))
		__builtin_trap();
	return 0;
}
