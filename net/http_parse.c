/* Pure parts of the HTTP/1.1 client (fuzzed): URLs, response heads, chunked bodies. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/addr.h"
#include "net/http.h"

int http_url_parse(const char *url, struct http_url *u, char *err, size_t errlen)
{
	const char *p, *slash;
	char hostport[300];
	const char *host, *port;
	char hp[300];

	memset(u, 0, sizeof(*u));
	if (!strncasecmp(url, "https://", 8)) {
		u->https = true;
		p = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		p = url + 7;
	} else {
		snprintf(err, errlen, "'%s' is not an http:// or https:// URL", url);
		return -1;
	}
	slash = p + strcspn(p, "/?#");
	if (slash == p || (size_t)(slash - p) >= sizeof(hostport)) {
		snprintf(err, errlen, "URL '%s' has no host", url);
		return -1;
	}
	memcpy(hostport, p, slash - p);
	hostport[slash - p] = '\0';
	if (strchr(hostport, '@')) {
		snprintf(err, errlen, "URL '%s': user:password@ in URLs is not supported", url);
		return -1;
	}
	if (hostport_split(hostport, hp, sizeof(hp), &host, &port) || !host[0] ||
	    strlen(host) >= sizeof(u->host)) {
		snprintf(err, errlen, "URL '%s' has a bad host", url);
		return -1;
	}
	snprintf(u->host, sizeof(u->host), "%s", host);
	if (port) {
		char *end;
		long n = strtol(port, &end, 10);
		if (!*port || *end || n < 1 || n > 65535) {
			snprintf(err, errlen, "URL '%s' has a bad port", url);
			return -1;
		}
		snprintf(u->port, sizeof(u->port), "%ld", n);
	} else {
		snprintf(u->port, sizeof(u->port), "%s", u->https ? "443" : "80");
	}
	if (*slash == '#' || !*slash)
		snprintf(u->path, sizeof(u->path), "/");
	else if (snprintf(u->path, sizeof(u->path), "%s%.*s", *slash == '?' ? "/" : "",
			  (int)strcspn(slash, "#"), slash) >= (int)sizeof(u->path)) {
		snprintf(err, errlen, "URL '%s' is too long", url);
		return -1;
	}
	for (const char *c = u->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			snprintf(err, errlen, "URL '%s' has a space or control character in its path", url);
			return -1;
		}
	return 0;
}

const char *http_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

/* Does the comma-separated list v hold token tok (case-insensitive)? */
static bool has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		size_t len = strcspn(v, ",");
		size_t t = len;
		while (t && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (t == n && !strncasecmp(v, tok, n))
			return true;
		v += len;
	}
	return false;
}

static bool is_token_char(int c)
{
	return c > ' ' && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

int http_parse_head(const char *buf, size_t len, struct http_response *r, bool method_head,
		    char *err, size_t errlen)
{
	size_t end = 0;
	char *line, *next;

	/* The head ends at the first empty line (CRLF CRLF; bare LF tolerated). */
	for (size_t i = 1; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i - 1] == '\n' || (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')) {
			end = i + 1;
			break;
		}
	}
	if (!end) {
		if (len >= HTTP_HEAD_MAX - 1) {
			snprintf(err, errlen, "response head is larger than %d bytes", HTTP_HEAD_MAX);
			return -1;
		}
		return 0;
	}
	if (end >= HTTP_HEAD_MAX) {
		snprintf(err, errlen, "response head is larger than %d bytes", HTTP_HEAD_MAX);
		return -1;
	}
	memmove(r->head, buf, end);
	r->head[end] = '\0';
	r->nheaders = 0;
	r->content_length = -1;
	r->chunked = r->gzip = r->no_body = false;
	if (memchr(r->head, '\0', end)) {
		snprintf(err, errlen, "response head contains a NUL byte");
		return -1;
	}

	line = r->head;
	next = strchr(line, '\n');
	*next++ = '\0';
	if (next - line >= 2 && next[-2] == '\r')
		next[-2] = '\0';
	/* HTTP/1.1 200 OK */
	if (strncmp(line, "HTTP/1.", 7) || !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || (line[12] != ' ' && line[12] != '\0')) {
		snprintf(err, errlen, "not an HTTP/1.x response (status line '%.40s')", line);
		return -1;
	}
	r->minor = line[7] - '0';
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	r->reason = line[12] ? line + 13 : line + 12;
	if (r->status < 100) {
		snprintf(err, errlen, "bad HTTP status %d", r->status);
		return -1;
	}
	r->keep_alive = r->minor >= 1;

	for (line = next; *line && *line != '\r' && *line != '\n'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		if (next - line >= 2 && next[-2] == '\r')
			next[-2] = '\0';
		char *colon = strchr(line, ':');
		if (!colon || colon == line) {
			snprintf(err, errlen, "malformed header line '%.40s'", line);
			return -1;
		}
		for (char *c = line; c < colon; c++)
			if (!is_token_char((unsigned char)*c)) {
				snprintf(err, errlen, "malformed header name '%.40s'", line);
				return -1;
			}
		*colon = '\0';
		char *v = colon + 1, *ve;
		while (*v == ' ' || *v == '\t')
			v++;
		ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		if (r->nheaders == HTTP_MAX_HEADERS) {
			snprintf(err, errlen, "more than %d response headers", HTTP_MAX_HEADERS);
			return -1;
		}
		r->headers[r->nheaders].name = line;
		r->headers[r->nheaders++].value = v;

		if (!strcasecmp(line, "Content-Length")) {
			char *e;
			if (!isdigit((unsigned char)*v)) {
				snprintf(err, errlen, "bad Content-Length '%.20s'", v);
				return -1;
			}
			unsigned long long n = strtoull(v, &e, 10);
			if (*e || n > (1ULL << 62) || (r->content_length >= 0 && (unsigned long long)r->content_length != n)) {
				snprintf(err, errlen, "bad Content-Length '%.20s'", v);
				return -1;
			}
			r->content_length = n;
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			r->chunked = has_token(v, "chunked");
			if (!r->chunked && !has_token(v, "identity")) {
				snprintf(err, errlen, "unsupported Transfer-Encoding '%.30s'", v);
				return -1;
			}
		} else if (!strcasecmp(line, "Content-Encoding")) {
			r->gzip = has_token(v, "gzip");
		} else if (!strcasecmp(line, "Connection")) {
			if (has_token(v, "close"))
				r->keep_alive = false;
			else if (has_token(v, "keep-alive"))
				r->keep_alive = true;
		}
	}
	r->no_body = method_head || r->status < 200 || r->status == 204 || r->status == 304;
	r->until_close = !r->no_body && !r->chunked && r->content_length < 0 && r->status != 101;
	if (r->until_close)
		r->keep_alive = false;
	r->body_left = r->content_length < 0 ? 0 : r->content_length;
	r->body_done = r->no_body || (!r->chunked && r->content_length == 0);
	memset(&r->chunk, 0, sizeof(r->chunk));
	return end;
}

enum { C_SIZE, C_EXT, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER, C_TRAILER_SKIP, C_TRAILER_LF, C_DONE };

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int http_chunked_decode(struct http_chunked *d, const uint8_t *in, size_t inlen, size_t *used,
			uint8_t *out, size_t outlen, size_t *made)
{
	size_t i = 0, o = 0;

	while (i < inlen && d->state != C_DONE) {
		int c = in[i];
		switch (d->state) {
		case C_SIZE:
			if (hexval(c) >= 0) {
				if (++d->hexdigits > 15)
					goto bad;
				d->left = d->left * 16 + hexval(c);
				i++;
				break;
			}
			if (!d->hexdigits)
				goto bad;
			d->state = C_EXT;
			break;
		case C_EXT:	/* chunk extensions (ignored), CR, up to LF */
			i++;
			if (c == '\n') {
				d->hexdigits = 0;
				d->state = d->left ? C_DATA : C_TRAILER;
			}
			break;
		case C_DATA: {
			size_t n = inlen - i;
			if (n > d->left)
				n = d->left;
			if (n > outlen - o)
				n = outlen - o;
			if (!n)
				goto out;	/* no room left */
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			d->left -= n;
			if (!d->left)
				d->state = C_DATA_CR;
			break;
		}
		case C_DATA_CR:
			i++;
			if (c == '\r')
				d->state = C_DATA_LF;
			else if (c == '\n')
				d->state = C_SIZE;
			else
				goto bad;
			break;
		case C_DATA_LF:
			i++;
			if (c != '\n')
				goto bad;
			d->state = C_SIZE;
			break;
		case C_TRAILER:	/* start of a trailer line, or the final empty line */
			i++;
			if (c == '\n')
				d->state = C_DONE;
			else if (c == '\r')
				d->state = C_TRAILER_LF;
			else
				d->state = C_TRAILER_SKIP;
			break;
		case C_TRAILER_SKIP:
			i++;
			if (c == '\n')
				d->state = C_TRAILER;
			break;
		case C_TRAILER_LF:
			i++;
			if (c != '\n')
				goto bad;
			d->state = C_DONE;
			break;
		}
	}
out:
	*used = i;
	*made = o;
	return d->state == C_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE;
bad:
	*used = i;
	*made = o;
	return HTTP_CHUNK_BAD;
}

int http_no_proxy_match(const char *no_proxy, const char *host)
{
	char item[300];
	struct ipaddr ip;
	struct cidr net;
	bool host_is_ip = !ipaddr_parse(host, &ip);

	if (!no_proxy)
		return 0;
	for (const char *p = no_proxy; *p;) {
		size_t n = strcspn(p, ", ");
		if (n && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			char *colon = strrchr(item, ':');	/* "host:port": the port is ignored */
			if (colon && !strchr(colon, ']') && strchr(item, ':') == colon)
				*colon = '\0';
			const char *it = item[0] == '.' ? item + 1 : item;
			size_t hl = strlen(host), il = strlen(it);
			if (!strcmp(item, "*"))
				return 1;
			if (host_is_ip) {
				if (!cidr_parse(it, &net) && cidr_contains(&net, &ip))
					return 1;
			} else if (il && (!strcasecmp(host, it) ||
				   (hl > il && host[hl - il - 1] == '.' && !strcasecmp(host + hl - il, it)))) {
				return 1;
			}
		}
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}
