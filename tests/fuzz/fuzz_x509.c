/*
 * Fuzz the PEM and X.509 handling of net/: PEM bundles, the subjectAltName
 * walker, subject/issuer names, trust-anchor and private-key loading (input as CA, chain and key).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/tls.h"
#include "net/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pem_obj *objs;
	char err[256], names[512], subject[64], issuer[64];
	struct ipaddr ip = { .family = 2, .b = { 127, 0, 0, 1 } };
	int n = pem_decode((const char *)data, size, &objs, err, sizeof(err));

	for (int i = 0; i < n; i++) {
		x509_san_list(objs[i].der, objs[i].len, names, sizeof(names));
		x509_has_ip_san(objs[i].der, objs[i].len, &ip);
		x509_names(objs[i].der, objs[i].len, subject, sizeof(subject), issuer, sizeof(issuer));
	}
	if (n >= 0)
		pem_free(objs, n);
	/* the input as raw DER */
	x509_san_list(data, size, names, sizeof(names));
	x509_names(data, size, subject, sizeof(subject), issuer, sizeof(issuer));

	struct tls_opts o = { .ca_pem = (const char *)data, .ca_len = size,
			      .cert_pem = (const char *)data, .cert_len = size,
			      .key_pem = (const char *)data, .key_len = size };
	tls_ctx_free(tls_ctx_new(&o, err, sizeof(err)));
	return 0;
}
