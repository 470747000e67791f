/*
 * Fuzz the kubeconfig parser: any bytes as YAML/JSON, merged twice into one
 * model (the second merge exercises the first-file-wins rule), then freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kubeconfig kc = { 0 };
	char err[512];

	if (kubeconfig_merge(&kc, (const char *)data, size, "/base", err, sizeof(err)) == 0) {
		size_t n = kc.nclusters + kc.nusers + kc.ncontexts;
		kubeconfig_merge(&kc, (const char *)data, size, NULL, err, sizeof(err));
		if (kc.nclusters + kc.nusers + kc.ncontexts != n)
			__builtin_trap();	/* the same names again add nothing */
		for (size_t i = 0; i < kc.nclusters; i++)
			if (kc.clusters[i].ca_file && kc.clusters[i].ca_file[0] && kc.clusters[i].ca_file[0] != '/')
				__builtin_trap();	/* every path was resolved */
	}
	kubeconfig_free(&kc);
	return 0;
}
