/* Base64 (see base64.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a base64 character, -1 when c is not one. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

unsigned char *base64_decode_n(const char *s, size_t n, size_t *len)
{
	size_t o = 0;
	unsigned char *out = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	if (!out)
		return NULL;
	for (const char *end = s + n; s < end; s++) {
		int v;
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		if (*s == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64_value((unsigned char)*s)) < 0)
			goto bad;	/* data after padding, or not base64 */
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = acc >> bits;
			acc &= (1u << bits) - 1;
		}
	}
	if (bits >= 6 || pad > 2)
		goto bad;	/* a lone trailing character */
	out[o] = '\0';
	*len = o;
	return out;
bad:
	free(out);
	return NULL;
}

unsigned char *base64_decode(const char *s, size_t *len)
{
	return base64_decode_n(s, strlen(s), len);
}

size_t base64_encode_to(char *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	char *o = out;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = p[i] << 16 | (i + 1 < len ? p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*o = '\0';
	return o - out;
}

char *base64_encode(const void *data, size_t len)
{
	char *out = malloc(BASE64_LEN(len) + 1);

	if (out)
		base64_encode_to(out, data, len);
	return out;
}
