/* --ship-binary's pure part: the image, the binary's checks, names (see kubectl_ship.h). */
#define _GNU_SOURCE	/* memmem */
#include <stdio.h>
#include <string.h>

#include <bearssl_hash.h>

#include "applets/kubectl/kubectl_ship.h"

static const char *const arches[SHIP_ARCHES] = { "amd64", "arm64" };
static const unsigned elf_machine[SHIP_ARCHES] = { 62 /* EM_X86_64 */, 183 /* EM_AARCH64 */ };

const char *ship_arch_name(int arch)
{
	return arch >= 0 && arch < SHIP_ARCHES ? arches[arch] : "?";
}

int ship_arch_index(const char *name)
{
	for (int i = 0; name && i < SHIP_ARCHES; i++)
		if (!strcmp(name, arches[i]))
			return i;
	return -1;
}

bool ship_is_pause(const char *ref)
{
	size_t end = strcspn(ref, "@");	/* the repository ends at the digest, */
	const char *slash = NULL;

	for (const char *p = ref; p < ref + end; p++)
		if (*p == '/')
			slash = p;
	const char *last = slash ? slash + 1 : ref;
	size_t n = strcspn(last, ":@");	/* or at the tag of its last component */
	return n == 5 && !strncmp(last, "pause", 5);
}

static bool ref_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n < 500 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@") == n;
}

bool ship_pick_image(const cJSON *node, const cJSON *pods, char *out, size_t len)
{
	const cJSON *img, *name, *pod;
	const char *digest = NULL;

	/* a pause image: every node has one (the pod sandbox), and it is small */
	cJSON_ArrayForEach(img, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "status"),
								  "images"))
		cJSON_ArrayForEach(name, cJSON_GetObjectItemCaseSensitive(img, "names")) {
			if (!cJSON_IsString(name) || !ref_ok(name->valuestring) || !ship_is_pause(name->valuestring))
				continue;
			if (!strchr(name->valuestring, '@')) {	/* a tag: what a runtime resolves everywhere */
				snprintf(out, len, "%s", name->valuestring);
				return true;
			}
			if (!digest)
				digest = name->valuestring;
		}
	if (digest) {
		snprintf(out, len, "%s", digest);
		return true;
	}
	/* else an image a container on this node runs now: the node has it */
	cJSON_ArrayForEach(pod, cJSON_GetObjectItemCaseSensitive(pods, "items")) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status"), *cs;
		cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(st, "containerStatuses")) {
			const cJSON *running = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(cs, "state"), "running");
			const cJSON *image = cJSON_GetObjectItemCaseSensitive(cs, "image");
			if (running && cJSON_IsString(image) && ref_ok(image->valuestring)) {
				snprintf(out, len, "%s", image->valuestring);
				return true;
			}
		}
	}
	return false;
}

static unsigned get16(const unsigned char *p)
{
	return p[0] | p[1] << 8;
}

static unsigned long long get64(const unsigned char *p)
{
	unsigned long long v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int ship_check_binary(const unsigned char *data, size_t len, int arch, const char *version, char *err,
		      size_t errlen)
{
	if (len < 64 || memcmp(data, "\177ELF", 4)) {
		snprintf(err, errlen, "not an ELF executable");
		return -1;
	}
	if (data[4] != 2 || data[5] != 1) {	/* ELFCLASS64, little-endian: both our arches */
		snprintf(err, errlen, "not a 64-bit little-endian ELF file");
		return -1;
	}
	unsigned machine = get16(data + 18);
	if (machine != elf_machine[arch]) {
		int other = -1;
		for (int i = 0; i < SHIP_ARCHES; i++)
			if (machine == elf_machine[i])
				other = i;
		snprintf(err, errlen, "built for %s, not %s (ELF machine %u)", other >= 0 ? arches[other] : "another machine",
			 arches[arch], machine);
		return -1;
	}
	unsigned long long phoff = get64(data + 32);
	unsigned phentsize = get16(data + 54), phnum = get16(data + 56);
	if (phentsize < 56 || phoff > len || (unsigned long long)phnum * phentsize > len - phoff) {
		snprintf(err, errlen, "a damaged ELF file (program headers out of the file)");
		return -1;
	}
	for (unsigned i = 0; i < phnum; i++)
		if (get16(data + phoff + (size_t)i * phentsize) == 3 /* PT_INTERP */) {
			snprintf(err, errlen, "dynamically linked (it needs a loader the image may not have)");
			return -1;
		}
	/* SHIP_TAG version NUL: the string each build carries (kubectl_ship.c) */
	size_t tl = strlen(SHIP_TAG), vl = strlen(version);
	const unsigned char *p = data, *end = data + len, *found = NULL;
	while ((p = memmem(p, end - p, SHIP_TAG, tl))) {
		if ((size_t)(end - p) > tl && p[tl])	/* (the tag alone is a string of its own) */
			found = p;
		if ((size_t)(end - p) > tl + vl && !memcmp(p + tl, version, vl) && !p[tl + vl])
			return 0;
		p += tl;
	}
	if (!found) {
		snprintf(err, errlen, "not a retina build (no %s string)", SHIP_TAG);
		return -1;
	}
	size_t ol = strnlen((const char *)found + tl, end - found - tl);
	snprintf(err, errlen, "retina %.*s, not this plugin's version %s", ol > 64 ? 64 : (int)ol,
		 (const char *)found + tl, version);
	return -1;
}

void ship_configmap_name(const unsigned char *data, size_t len, char *out, size_t outlen)
{
	br_sha256_context c;
	unsigned char d[32];

	br_sha256_init(&c);
	br_sha256_update(&c, data, len);
	br_sha256_out(&c, d);
	int n = snprintf(out, outlen, "retina-bin-");
	for (int i = 0; i < 20 && n > 0 && (size_t)n + 2 < outlen; i++)
		n += snprintf(out + n, outlen - n, "%02x", d[i]);
}

bool ship_applet_ok(const char *name)
{
	static const char *const ok[] = { "capcheck", "trace", "ping", "dig", "nc", "curl", "nsenter",
					  "execsnoop", "traceloop", NULL };

	for (const char *const *p = ok; *p; p++)
		if (!strcmp(name, *p))
			return true;
	return false;
}
