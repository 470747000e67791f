/* PEM bundles and the subjectAltName extension (see x509.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/base64.h"
#include "net/x509.h"

void pem_free(struct pem_obj *objs, int n)
{
	for (int i = 0; i < n; i++)
		free(objs[i].der);
	free(objs);
}

/* The line at p (up to end): its end without the newline and trailing blanks, and where the next starts. */
static const char *line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', end - p), *e = nl ? nl : end;

	*next = nl ? nl + 1 : end;
	while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return e;
}

static int starts_with(const char *p, const char *e, const char *prefix)
{
	size_t n = strlen(prefix);

	return (size_t)(e - p) >= n && memcmp(p, prefix, n) == 0;
}

/*
 * RFC 7468 text: text outside "-----BEGIN NAME-----" ... "-----END NAME-----"
 * is ignored, the base64 between them may be wrapped anyhow. Ours rather than
 * BearSSL's decoder: that one is a byte-at-a-time interpreter, 10x slower on
 * a CA bundle, and it was three quarters of what fuzz_x509 measured.
 */
int pem_decode(const char *text, size_t len, struct pem_obj **out, char *err, size_t errlen)
{
	const char *p = text, *end = text + len, *body = NULL, *next;
	struct pem_obj *objs = NULL;
	int n = 0;

	*out = NULL;
	for (; p < end; p = next) {
		const char *e = line_end(p, end, &next);

		if (!body) {
			if (!starts_with(p, e, "-----BEGIN "))
				continue;
			const char *name = p + 11;
			if (e - name < 5 || memcmp(e - 5, "-----", 5) != 0) {
				snprintf(err, errlen, "not valid PEM (a BEGIN line does not end in -----)");
				goto fail;
			}
			struct pem_obj *grown = realloc(objs, (n + 1) * sizeof(*objs));
			if (!grown)
				goto oom;
			objs = grown;
			memset(&objs[n], 0, sizeof(objs[n]));
			snprintf(objs[n].name, sizeof(objs[n].name), "%.*s", (int)(e - 5 - name), name);
			body = next;
		} else if (starts_with(p, e, "-----END ")) {
			if (!(objs[n].der = base64_decode_n(body, p - body, &objs[n].len))) {
				snprintf(err, errlen, "not valid PEM (bad base64 in '%s')", objs[n].name);
				goto fail;
			}
			n++;
			body = NULL;
		}
	}
	if (body) {
		snprintf(err, errlen, "PEM object '%s' has no END line", objs[n].name);
		goto fail;
	}
	if (n == 0) {
		snprintf(err, errlen, "no PEM data (expected -----BEGIN ...-----)");
		goto fail;
	}
	*out = objs;
	return n;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	pem_free(objs, n);
	return -1;
}

/*
 * One DER element at *p: its tag (single-byte tags only: X.509 needs no
 * others), value and length. Advances *p past it. -1 when malformed.
 */
static int der_next(const unsigned char **p, const unsigned char *end,
		    int *tag, const unsigned char **val, size_t *vlen)
{
	const unsigned char *q = *p;
	size_t len;

	if (end - q < 2 || (*q & 0x1f) == 0x1f)
		return -1;
	*tag = *q++;
	len = *q++;
	if (len & 0x80) {
		int nb = len & 0x7f;
		if (nb == 0 || nb > 4 || end - q < nb)
			return -1;
		len = 0;
		while (nb--)
			len = (len << 8) | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*val = q;
	*vlen = len;
	*p = q + len;
	return 0;
}

/* Point [*p, *end) at the fields of the TBSCertificate inside a DER certificate. */
static int tbs_fields(const unsigned char *der, size_t len, const unsigned char **p, const unsigned char **end)
{
	const unsigned char *v;
	size_t vl;
	int tag;

	if (!der || len < 2)	/* an empty PEM object has no buffer at all */
		return -1;
	*p = der;
	*end = der + len;
	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... }, ... } */
	for (int depth = 0; depth < 2; depth++) {
		if (der_next(p, *end, &tag, &v, &vl) || tag != 0x30)
			return -1;
		*p = v;
		*end = v + vl;
	}
	return 0;
}

int x509_each_san(const unsigned char *der, size_t len,
		  void (*fn)(void *arg, int type, const unsigned char *val, size_t vlen), void *arg)
{
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 };	/* 2.5.29.17 */
	const unsigned char *p, *end, *v;
	size_t vl;
	int tag;

	if (tbs_fields(der, len, &p, &end))
		return -1;
	/* Walk the TBS fields to extensions [3]. */
	while (p < end) {
		if (der_next(&p, end, &tag, &v, &vl))
			return -1;
		if (tag != 0xa3)
			continue;
		const unsigned char *e = v, *eend = v + vl;
		if (der_next(&e, eend, &tag, &v, &vl) || tag != 0x30)
			return -1;
		e = v;
		eend = v + vl;
		while (e < eend) {	/* Extension ::= SEQUENCE { OID, critical BOOLEAN OPTIONAL, OCTET STRING } */
			const unsigned char *x, *xend, *oid;
			size_t oidlen;
			if (der_next(&e, eend, &tag, &v, &vl) || tag != 0x30)
				return -1;
			x = v;
			xend = v + vl;
			if (der_next(&x, xend, &tag, &oid, &oidlen) || tag != 0x06)
				return -1;
			if (der_next(&x, xend, &tag, &v, &vl))
				return -1;
			if (tag == 0x01 && der_next(&x, xend, &tag, &v, &vl))
				return -1;
			if (tag != 0x04)
				return -1;
			if (oidlen != sizeof(san_oid) || memcmp(oid, san_oid, oidlen))
				continue;
			/* GeneralNames ::= SEQUENCE OF GeneralName (implicit tags) */
			const unsigned char *g = v, *gend = v + vl;
			if (der_next(&g, gend, &tag, &v, &vl) || tag != 0x30)
				return -1;
			g = v;
			gend = v + vl;
			while (g < gend) {
				if (der_next(&g, gend, &tag, &v, &vl))
					return -1;
				if (tag == (0x80 | SAN_DNS) || tag == (0x80 | SAN_IP))
					fn(arg, tag & 0x1f, v, vl);
			}
		}
	}
	return 0;
}

struct san_list {
	char *buf;
	size_t len, used;
};

static void san_list_add(void *arg, int type, const unsigned char *val, size_t vlen)
{
	struct san_list *l = arg;
	char name[IPADDR_STRLEN + 4];

	if (type == SAN_DNS) {
		size_t n = vlen < 253 ? vlen : 253;
		char dns[256];
		for (size_t i = 0; i < n; i++)	/* never print control bytes from a peer */
			dns[i] = val[i] >= 0x20 && val[i] < 0x7f ? (char)val[i] : '?';
		dns[n] = '\0';
		if (l->used < l->len)
			l->used += snprintf(l->buf + l->used, l->len - l->used, "%sDNS:%s",
					    l->used ? ", " : "", dns);
		return;
	}
	struct ipaddr ip = { 0 };
	if (vlen == 4)
		ip.family = AF_INET;
	else if (vlen == 16)
		ip.family = AF_INET6;
	else
		return;
	memcpy(ip.b, val, vlen);
	ipaddr_format(&ip, name, sizeof(name));
	if (l->used < l->len)
		l->used += snprintf(l->buf + l->used, l->len - l->used, "%sIP:%s", l->used ? ", " : "", name);
}

char *x509_san_list(const unsigned char *der, size_t len, char *buf, size_t buflen)
{
	struct san_list l = { buf, buflen, 0 };

	if (buflen)
		buf[0] = '\0';
	x509_each_san(der, len, san_list_add, &l);
	return buf;
}

struct ip_match {
	const struct ipaddr *want;
	int found;
};

static void ip_match(void *arg, int type, const unsigned char *val, size_t vlen)
{
	struct ip_match *m = arg;
	struct ipaddr ip = { 0 };

	if (type != SAN_IP || (vlen != 4 && vlen != 16))
		return;
	ip.family = vlen == 4 ? AF_INET : AF_INET6;
	memcpy(ip.b, val, vlen);
	ipaddr_unmap(&ip);
	if (ipaddr_equal(&ip, m->want))
		m->found = 1;
}

int x509_has_ip_san(const unsigned char *der, size_t len, const struct ipaddr *ip)
{
	struct ipaddr want = *ip;
	struct ip_match m = { &want, 0 };

	ipaddr_unmap(&want);
	if (x509_each_san(der, len, ip_match, &m))
		return 0;	/* a malformed extension names nothing */
	return m.found;
}

/* A dotted OID, or the short name OpenSSL prints for the usual DN attributes. */
static void oid_text(const unsigned char *oid, size_t len, char *buf, size_t buflen)
{
	static const struct { unsigned char last; const char *name; } dn[] = {
		{ 3, "CN" }, { 5, "serialNumber" }, { 6, "C" }, { 7, "L" }, { 8, "ST" }, { 9, "street" },
		{ 10, "O" }, { 11, "OU" },
	};
	size_t used = 0;
	unsigned long v = 0;

	if (len == 3 && oid[0] == 0x55 && oid[1] == 0x04)	/* 2.5.4.N */
		for (size_t i = 0; i < sizeof(dn) / sizeof(dn[0]); i++)
			if (dn[i].last == oid[2]) {
				snprintf(buf, buflen, "%s", dn[i].name);
				return;
			}
	buf[0] = '\0';
	for (size_t i = 0; i < len && used < buflen; i++) {
		v = (v << 7) | (oid[i] & 0x7f);
		if (oid[i] & 0x80)
			continue;
		if (i == 0 || !used)
			used += snprintf(buf + used, buflen - used, "%lu.%lu", v < 80 ? v / 40 : 2,
					 v < 80 ? v % 40 : v - 80);
		else
			used += snprintf(buf + used, buflen - used, ".%lu", v);
		v = 0;
	}
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY } into "CN=x; O=y". */
static int name_text(const unsigned char *p, const unsigned char *end, char *buf, size_t buflen)
{
	size_t used = 0;
	int tag;
	const unsigned char *v, *a, *aend, *oid;
	size_t vl, oidlen;

	buf[0] = '\0';
	while (p < end) {
		if (der_next(&p, end, &tag, &v, &vl) || tag != 0x31)
			return -1;
		a = v;
		aend = v + vl;
		while (a < aend) {
			const unsigned char *x, *xend;
			char key[64], val[128];
			size_t n, i;
			if (der_next(&a, aend, &tag, &v, &vl) || tag != 0x30)
				return -1;
			x = v;
			xend = v + vl;
			if (der_next(&x, xend, &tag, &oid, &oidlen) || tag != 0x06 ||
			    der_next(&x, xend, &tag, &v, &vl))
				return -1;
			oid_text(oid, oidlen, key, sizeof(key));
			n = vl < sizeof(val) - 1 ? vl : sizeof(val) - 1;
			for (i = 0; i < n; i++)	/* never print control bytes from a peer */
				val[i] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
			val[n] = '\0';
			if (used < buflen)
				used += snprintf(buf + used, buflen - used, "%s%s=%s", used ? "; " : "", key, val);
		}
	}
	return 0;
}

int x509_names(const unsigned char *der, size_t len, char *subject, size_t slen, char *issuer, size_t ilen)
{
	const unsigned char *p, *end, *v;
	size_t vl;
	int tag, field = 0;

	subject[0] = issuer[0] = '\0';
	if (tbs_fields(der, len, &p, &end))
		return -1;
	/* TBSCertificate: [0] version OPTIONAL, serial, signature, issuer, validity, subject, ... */
	while (p < end) {
		if (der_next(&p, end, &tag, &v, &vl))
			return -1;
		if (tag == 0xa0)
			continue;
		field++;
		if (field == 3 && (tag != 0x30 || name_text(v, v + vl, issuer, ilen)))
			return -1;
		if (field == 5)
			return tag == 0x30 ? name_text(v, v + vl, subject, slen) : -1;
	}
	return -1;
}

char *x509_time_format(uint32_t days, uint32_t seconds, char *buf, size_t len)
{
	/* 719528 days from 0000-01-01 (proleptic Gregorian) to 1970-01-01 */
	time_t t = ((time_t)days - 719528) * 86400 + seconds;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "day %u", (unsigned)days);
	return buf;
}
