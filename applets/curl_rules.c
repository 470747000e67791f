/* curl's pure parts (see curl.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "applets/curl.h"

static const struct wvar {
	const char *name;
	char kind;		/* t: time, i: int, u: u64, s: string, c: http code */
	size_t off;
} wvars[] = {
#define T(n, f) { n, 't', offsetof(struct curl_stats, f) }
	T("time_namelookup", t_namelookup), T("time_connect", t_connect),
	T("time_appconnect", t_appconnect), T("time_pretransfer", t_pretransfer),
	T("time_starttransfer", t_starttransfer), T("time_total", t_total),
#undef T
	{ "http_code", 'c', offsetof(struct curl_stats, http_code) },
	{ "response_code", 'c', offsetof(struct curl_stats, http_code) },
	{ "size_download", 'u', offsetof(struct curl_stats, size_download) },
	{ "size_header", 'u', offsetof(struct curl_stats, size_header) },
	{ "size_upload", 'u', offsetof(struct curl_stats, size_upload) },
	{ "num_redirects", 'i', offsetof(struct curl_stats, num_redirects) },
	{ "exitcode", 'i', offsetof(struct curl_stats, exitcode) },
	{ "remote_port", 'i', offsetof(struct curl_stats, remote_port) },
	{ "remote_ip", 'a', offsetof(struct curl_stats, remote_ip) },
	{ "url_effective", 's', offsetof(struct curl_stats, url_effective) },
	{ "content_type", 's', offsetof(struct curl_stats, content_type) },
	{ "redirect_url", 's', offsetof(struct curl_stats, redirect_url) },
	{ "scheme", 's', offsetof(struct curl_stats, scheme) },
};

size_t curl_write_out(const char *fmt, const struct curl_stats *st, char *buf, size_t len,
		      char *unknown, size_t ulen)
{
	size_t used = 0;
	const char *base = (const char *)st;

#define PUT(...) do { \
		if (used < len) { \
			int n_ = snprintf(buf + used, len - used, __VA_ARGS__); \
			used = n_ < 0 ? used : used + (size_t)n_ < len ? used + (size_t)n_ : len - 1; \
		} \
	} while (0)
	if (len)
		buf[0] = '\0';
	if (ulen)
		unknown[0] = '\0';
	for (const char *p = fmt; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			switch (*p) {
			case 'n': PUT("\n"); break;
			case 'r': PUT("\r"); break;
			case 't': PUT("\t"); break;
			case '\\': PUT("\\"); break;
			default: PUT("\\%c", *p); break;
			}
			continue;
		}
		if (*p == '%' && p[1] == '%') {
			PUT("%%");
			p++;
			continue;
		}
		if (*p == '%' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			if (!end) {
				PUT("%s", p);
				break;
			}
			size_t n = (size_t)(end - p - 2);
			const struct wvar *v = NULL;
			for (size_t i = 0; i < sizeof(wvars) / sizeof(wvars[0]); i++)
				if (strlen(wvars[i].name) == n && !strncmp(wvars[i].name, p + 2, n))
					v = &wvars[i];
			if (!v) {
				if (ulen && !unknown[0])
					snprintf(unknown, ulen, "%.*s", (int)n, p + 2);
			} else if (v->kind == 't') {
				PUT("%.6f", *(const double *)(const void *)(base + v->off));
			} else if (v->kind == 'c') {
				PUT("%03d", *(const int *)(const void *)(base + v->off));
			} else if (v->kind == 'i') {
				PUT("%d", *(const int *)(const void *)(base + v->off));
			} else if (v->kind == 'u') {
				PUT("%llu", (unsigned long long)*(const uint64_t *)(const void *)(base + v->off));
			} else if (v->kind == 'a') {
				PUT("%s", base + v->off);
			} else {
				const char *s = *(const char *const *)(const void *)(base + v->off);
				PUT("%s", s ? s : "");
			}
			p = end;
			continue;
		}
		PUT("%c", *p);
	}
#undef PUT
	return used;
}

int curl_resolve_parse(const char *s, char *host, uint16_t *port, struct ipaddr *addr)
{
	const char *c1 = strchr(s, ':'), *c2;
	char a[IPADDR_STRLEN + 2];
	size_t alen;
	long p;
	char *end;

	if (!c1 || c1 == s || (size_t)(c1 - s) > 255)
		return -1;
	p = strtol(c1 + 1, &end, 10);
	if (end == c1 + 1 || *end != ':' || p < 1 || p > 65535)
		return -1;
	c2 = end + 1;
	alen = strlen(c2);
	if (alen >= 2 && c2[0] == '[' && c2[alen - 1] == ']') {
		c2++;
		alen -= 2;
	}
	if (!alen || alen >= sizeof(a))
		return -1;
	memcpy(a, c2, alen);
	a[alen] = '\0';
	if (ipaddr_parse(a, addr))
		return -1;
	memcpy(host, s, (size_t)(c1 - s));
	host[c1 - s] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int curl_location(const struct http_url *base, const char *loc, char *out, size_t outlen)
{
	const char *scheme = base->https ? "https" : "http";
	bool v6 = strchr(base->host, ':') != NULL;
	bool dflt = !strcmp(base->port, base->https ? "443" : "80");
	char origin[300];
	int n;

	while (*loc == ' ' || *loc == '\t')
		loc++;
	if (!strncasecmp(loc, "http://", 7) || !strncasecmp(loc, "https://", 8)) {
		n = snprintf(out, outlen, "%s", loc);
	} else if (strstr(loc, "://") && strcspn(loc, "/") > strcspn(loc, ":")) {
		return -1;	/* another scheme */
	} else if (loc[0] == '/' && loc[1] == '/') {
		n = snprintf(out, outlen, "%s:%s", scheme, loc);
	} else {
		snprintf(origin, sizeof(origin), "%s://%s%s%s%s%s", scheme, v6 ? "[" : "", base->host,
			 v6 ? "]" : "", dflt ? "" : ":", dflt ? "" : base->port);
		if (loc[0] == '/') {
			n = snprintf(out, outlen, "%s%s", origin, loc);
		} else {
			/* relative: the base path up to its last '/' (query dropped), then loc */
			size_t dir = strcspn(base->path, "?");
			while (dir && base->path[dir - 1] != '/')
				dir--;
			n = snprintf(out, outlen, "%s%.*s%s", origin, (int)dir, base->path, loc);
		}
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int curl_parse_seconds(const char *s, int *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < 0 || v > 2000000)
		return -1;
	*ms = (int)(v * 1000 + 0.5);
	if (*ms < 1 && v > 0)
		*ms = 1;
	return 0;
}
