/* curl's pure parts (unit-tested): -w formatting, --resolve, redirects, seconds. */
#ifndef RETINA_APPLETS_CURL_H
#define RETINA_APPLETS_CURL_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/http.h"

/* curl's exit codes that retina curl uses (see docs/curl.md). */
enum {
	CURLE_UNSUPPORTED_PROTOCOL = 1,
	CURLE_USAGE = 2,
	CURLE_URL_MALFORMAT = 3,
	CURLE_COULDNT_RESOLVE_HOST = 6,
	CURLE_COULDNT_CONNECT = 7,
	CURLE_WEIRD_SERVER_REPLY = 8,
	CURLE_PARTIAL_FILE = 18,
	CURLE_HTTP_RETURNED_ERROR = 22,
	CURLE_WRITE_ERROR = 23,
	CURLE_READ_ERROR = 26,
	CURLE_OPERATION_TIMEDOUT = 28,
	CURLE_SSL_CONNECT_ERROR = 35,
	CURLE_TOO_MANY_REDIRECTS = 47,
	CURLE_GOT_NOTHING = 52,
	CURLE_SEND_ERROR = 55,
	CURLE_RECV_ERROR = 56,
	CURLE_PEER_FAILED_VERIFICATION = 60,
	CURLE_BAD_CONTENT_ENCODING = 61,
	CURLE_SSL_CACERT_BADFILE = 77,
};

struct curl_stats {
	double t_namelookup, t_connect, t_appconnect, t_pretransfer, t_starttransfer, t_total;
	int http_code;
	uint64_t size_download, size_header, size_upload;
	int num_redirects;
	int exitcode;
	const char *url_effective, *content_type, *redirect_url, *scheme;
	char remote_ip[IPADDR_STRLEN];
	int remote_port;
};

/*
 * Expand a --write-out template (%{var}, %%, \n \r \t \\) into buf
 * (NUL-terminated, truncated to fit). Unknown variables are named in
 * *unknown (the first one) and print nothing, as curl does. Returns the length.
 */
size_t curl_write_out(const char *fmt, const struct curl_stats *st, char *buf, size_t len,
		      char *unknown, size_t ulen);

/* "HOST:PORT:ADDR" (ADDR may be [v6]). 0 or -1. host must hold 256 bytes. */
int curl_resolve_parse(const char *s, char *host, uint16_t *port, struct ipaddr *addr);

/*
 * The URL a Location header points to, from the request's URL: absolute,
 * scheme-relative (//host/p), absolute path (/p) or relative to the base's directory (p).
 * 0, or -1 when it does not fit or is not http(s).
 */
int curl_location(const struct http_url *base, const char *loc, char *out, size_t outlen);

/* Seconds as curl takes them ("5", "0.25") into ms (0: none, as curl's 0). 0 or -1. */
int curl_parse_seconds(const char *s, int *ms);

#endif
