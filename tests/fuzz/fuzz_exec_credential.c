/*
 * Fuzz the exec credential plugin's output as kube/auth.c takes it
 * (kube_exec_credential_parse): any bytes on the plugin's stdout give either
 * one clear error line with nothing raw from the plugin in it, or a token
 * and/or a certificate with its key (never one without the other) and an
 * expiry kube_parse_time accepted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_exec_cred c;
	char err[512] = "", *out = malloc(size + 1);

	if (!out)
		return 0;
	memcpy(out, data, size);
	out[size] = '\0';
	if (kube_exec_credential_parse(out, "client.authentication.k8s.io/v1", "plugin", &c, err, sizeof(err))) {
		if (!err[0] || c.token || c.cert || c.key)
			__builtin_trap();
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				__builtin_trap();	/* the plugin's bytes never reach the terminal raw */
	} else {
		/* any expiry kube_parse_time took, before 1970 too (then it is simply past) */
		if ((!c.token && !c.cert) || !c.cert != !c.key || (c.token && !c.token[0]) || (c.cert && !c.cert[0]))
			__builtin_trap();
		kube_exec_cred_free(&c);
	}
	/* the first line as a timestamp on its own */
	out[strcspn(out, "\n")] = '\0';
	kube_parse_time(out);
	free(out);
	return 0;
}
