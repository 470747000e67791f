/* Fuzz the HTTP response head parser and the URL parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

static struct http_response r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char url[512];
	struct http_url u;

	int n = http_parse_head((const char *)data, size, &r, size & 1, err, sizeof(err));
	if (n > 0) {
		if ((size_t)n > size || r.nheaders > HTTP_MAX_HEADERS || r.status < 100 || r.status > 999)
			__builtin_trap();
		for (size_t i = 0; i < r.nheaders; i++)
			if (strlen(r.headers[i].name) == 0 || strlen(r.headers[i].value) > (size_t)n)
				__builtin_trap();
		http_header(&r, "content-type");
	}
	if (size < sizeof(url)) {
		memcpy(url, data, size);
		url[size] = '\0';
		if (!http_url_parse(url, &u, err, sizeof(err)) && (u.path[0] != '/' || !u.host[0]))
			__builtin_trap();
	}
	return 0;
}
