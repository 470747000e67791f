/*
 * Address -> pod/service/node name, time-aware (see kube/names.h).
 *
 * Layout, for size (10,000 pods and 2,000 services in well under 4 MB):
 * one array of intervals (an address, [from, to), its object) chained two
 * ways, per address through a hash table and per object; one array of
 * objects (kind, name) hashed by name; the names in one string pool. Indexes
 * are 32-bit, NONE ends a chain. Nothing is freed one by one: prune
 * rebuilds the map from what is still wanted.
 */
#define _GNU_SOURCE	/* timegm */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/names.h"

#define NONE UINT32_MAX
#define OPEN INT64_MAX
#define MAX_ADDRS 16	/* of one object: more are ignored */

struct kn_entry {
	uint8_t addr[16];	/* IPv4 in the first 4 bytes, the rest zero */
	int64_t from, to;
	uint32_t obj;		/* top bit: IPv6 */
	uint32_t next;		/* the next interval in this address's hash bucket */
	uint32_t onext;		/* the object's next interval */
};

struct kn_obj {
	uint32_t name;		/* offset in the pool: "ns/name" (a node: "name") */
	uint32_t next;		/* the next object in this name's hash bucket */
	uint32_t head;		/* its newest interval */
	uint32_t gen;		/* the relist that last saw it */
	uint8_t kind;
};

struct kube_names {
	struct kn_entry *e;
	uint32_t ne, cape;
	uint32_t *abucket, nabucket;	/* power of two */
	struct kn_obj *o;
	uint32_t no, capo;
	uint32_t *obucket, nobucket;
	char *pool;
	size_t npool, cappool;
	uint32_t gen[KN_KINDS];
	size_t nopen;
};

#define V6 0x80000000u

static uint32_t hash(const void *p, size_t len, uint32_t seed)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h ^ (h >> 15);
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return true;
	uint32_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, (size_t)n * size);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* A bucket array of n (a power of two) heads, every one NONE. */
static uint32_t *buckets(uint32_t n)
{
	uint32_t *b = malloc((size_t)n * sizeof(*b));

	if (b)
		memset(b, 0xff, (size_t)n * sizeof(*b));
	return b;
}

struct kube_names *kube_names_new(void)
{
	struct kube_names *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nabucket = m->nobucket = 64;
	m->abucket = buckets(m->nabucket);
	m->obucket = buckets(m->nobucket);
	if (!m->abucket || !m->obucket) {
		kube_names_free(m);
		return NULL;
	}
	return m;
}

void kube_names_free(struct kube_names *m)
{
	if (!m)
		return;
	free(m->e);
	free(m->abucket);
	free(m->o);
	free(m->obucket);
	free(m->pool);
	free(m);
}

int kube_names_kind(const char *resource)
{
	return !strcmp(resource, "pods") ? KN_POD : !strcmp(resource, "services") ? KN_SVC
		: !strcmp(resource, "nodes") ? KN_NODE : -1;
}

const char *kube_names_key(enum kn_kind kind)
{
	return kind == KN_POD ? "pod" : kind == KN_SVC ? "svc" : "node";
}

static uint32_t addr_hash(const uint8_t *addr, bool v6)
{
	return hash(addr, v6 ? 16 : 4, v6);
}

/* Double the address buckets when they are fewer than the intervals: chains stay short. */
static void rehash_addrs(struct kube_names *m)
{
	if (m->ne < m->nabucket)
		return;
	uint32_t n = m->nabucket * 2, *b = buckets(n);
	if (!b)
		return;
	for (uint32_t i = 0; i < m->ne; i++) {
		uint32_t h = addr_hash(m->e[i].addr, m->e[i].obj & V6) & (n - 1);
		m->e[i].next = b[h];
		b[h] = i;
	}
	free(m->abucket);
	m->abucket = b;
	m->nabucket = n;
}

static void rehash_objs(struct kube_names *m)
{
	if (m->no < m->nobucket)
		return;
	uint32_t n = m->nobucket * 2, *b = buckets(n);
	if (!b)
		return;
	for (uint32_t i = 0; i < m->no; i++) {
		const char *s = m->pool + m->o[i].name;
		uint32_t h = hash(s, strlen(s), m->o[i].kind) & (n - 1);
		m->o[i].next = b[h];
		b[h] = i;
	}
	free(m->obucket);
	m->obucket = b;
	m->nobucket = n;
}

/* The object of kind named key, made when missing (NONE: out of memory). */
static uint32_t find_obj(struct kube_names *m, enum kn_kind kind, const char *key)
{
	size_t len = strlen(key);
	uint32_t h = hash(key, len, kind);

	for (uint32_t i = m->obucket[h & (m->nobucket - 1)]; i != NONE; i = m->o[i].next)
		if (m->o[i].kind == kind && !strcmp(m->pool + m->o[i].name, key))
			return i;
	if (m->npool + len + 1 > UINT32_MAX || m->no == NONE - 1)
		return NONE;
	if (m->npool + len + 1 > m->cappool) {
		size_t n = m->cappool ? m->cappool : 4096;
		while (n < m->npool + len + 1)
			n *= 2;
		char *p = realloc(m->pool, n);
		if (!p)
			return NONE;
		m->pool = p;
		m->cappool = n;
	}
	if (!grow((void **)&m->o, &m->capo, m->no + 1, sizeof(*m->o)))
		return NONE;
	uint32_t i = m->no++;
	memcpy(m->pool + m->npool, key, len + 1);
	m->o[i] = (struct kn_obj){ .name = (uint32_t)m->npool, .head = NONE, .kind = kind, .gen = m->gen[kind] };
	m->npool += len + 1;
	uint32_t b = h & (m->nobucket - 1);
	m->o[i].next = m->obucket[b];
	m->obucket[b] = i;
	rehash_objs(m);	/* out of memory: linked already, only the chains stay longer */
	return i;
}

static int add_entry(struct kube_names *m, uint32_t obj, const uint8_t *addr, bool v6, int64_t from)
{
	if (m->ne == NONE - 1 || !grow((void **)&m->e, &m->cape, m->ne + 1, sizeof(*m->e)))
		return -1;
	uint32_t i = m->ne++;
	struct kn_entry *e = &m->e[i];
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, addr, v6 ? 16 : 4);
	e->from = from;
	e->to = OPEN;
	e->obj = obj | (v6 ? V6 : 0);
	e->onext = m->o[obj].head;
	m->o[obj].head = i;
	uint32_t h = addr_hash(e->addr, v6) & (m->nabucket - 1);
	e->next = m->abucket[h];
	m->abucket[h] = i;
	m->nopen++;
	rehash_addrs(m);	/* out of memory: linked already, only the chains stay longer */
	return 0;
}

struct addrs {
	uint8_t a[MAX_ADDRS][16];
	bool v6[MAX_ADDRS];
	int n;
};

static void add_text(struct addrs *s, const cJSON *v)
{
	uint8_t b[16] = { 0 };
	bool v6;

	if (!cJSON_IsString(v) || s->n == MAX_ADDRS)
		return;
	if (inet_pton(AF_INET, v->valuestring, b) == 1)
		v6 = false;
	else if (inet_pton(AF_INET6, v->valuestring, b) == 1)
		v6 = true;
	else
		return;	/* "None", "", junk */
	for (int i = 0; i < s->n; i++)
		if (s->v6[i] == v6 && !memcmp(s->a[i], b, 16))
			return;
	memcpy(s->a[s->n], b, 16);
	s->v6[s->n++] = v6;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The addresses obj holds now, by kind (see kube/names.h). */
static void addresses(enum kn_kind kind, const cJSON *obj, struct addrs *s)
{
	const cJSON *spec = get(obj, "spec"), *st = get(obj, "status"), *x;

	switch (kind) {
	case KN_POD: {
		const cJSON *phase = get(st, "phase");
		if (cJSON_IsTrue(get(spec, "hostNetwork")))
			return;	/* its node's address: the node names it */
		/* a pod that ended gave its address back: it may be reused */
		if (cJSON_IsString(phase) && (!strcmp(phase->valuestring, "Succeeded") ||
					      !strcmp(phase->valuestring, "Failed")))
			return;
		cJSON_ArrayForEach(x, get(st, "podIPs"))
			add_text(s, get(x, "ip"));
		add_text(s, get(st, "podIP"));
		break;
	}
	case KN_SVC:
		cJSON_ArrayForEach(x, get(spec, "clusterIPs"))
			add_text(s, x);
		add_text(s, get(spec, "clusterIP"));
		cJSON_ArrayForEach(x, get(spec, "externalIPs"))
			add_text(s, x);
		cJSON_ArrayForEach(x, get(get(st, "loadBalancer"), "ingress"))
			add_text(s, get(x, "ip"));
		break;
	case KN_NODE:
		cJSON_ArrayForEach(x, get(st, "addresses")) {
			const cJSON *t = get(x, "type");
			if (cJSON_IsString(t) && (!strcmp(t->valuestring, "InternalIP") ||
						  !strcmp(t->valuestring, "ExternalIP")))
				add_text(s, get(x, "address"));
		}
		break;
	default:
		break;
	}
}

/* "2024-01-01T00:00:00Z" (RFC 3339, as metadata's timestamps) in ns; -1 when not that. */
static int64_t rfc3339_ns(const cJSON *v)
{
	struct tm tm = { 0 };
	int used = 0;

	if (!cJSON_IsString(v) || sscanf(v->valuestring, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
					 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
		return -1;
	const char *p = v->valuestring + 19;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");	/* metadata's are whole seconds; keep it simple */
	if (strcmp(p, "Z") || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t < 0 ? -1 : (int64_t)t * 1000000000;
}

static void close_entry(struct kube_names *m, struct kn_entry *e, int64_t at)
{
	e->to = at > e->from ? at : e->from;
	m->nopen--;
}

int kube_names_apply(struct kube_names *m, enum kn_kind kind, const char *type, const cJSON *obj, int64_t now_ns)
{
	const cJSON *md = get(obj, "metadata");
	const cJSON *name = get(md, "name"), *ns = get(md, "namespace");
	bool deleted = !strcmp(type, "DELETED");
	struct addrs s = { .n = 0 };
	char key[512];

	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && !deleted)
		return 0;	/* BOOKMARK, ERROR: nothing of an object's addresses */
	if ((unsigned)kind >= KN_KINDS || !cJSON_IsString(name) || !name->valuestring[0])
		return -1;
	if (kind == KN_NODE)
		snprintf(key, sizeof(key), "%s", name->valuestring);
	else
		snprintf(key, sizeof(key), "%s/%s", cJSON_IsString(ns) ? ns->valuestring : "default",
			 name->valuestring);
	/* names go into JSON lines and onto terminals: only what the API server allows in them */
	if (strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-./") != strlen(key))
		return -1;
	if (!deleted)
		addresses(kind, obj, &s);
	uint32_t oi = find_obj(m, kind, key);
	if (oi == NONE)
		return -1;
	m->o[oi].gen = m->gen[kind];
	bool have[MAX_ADDRS] = { false };
	for (uint32_t i = m->o[oi].head; i != NONE; i = m->e[i].onext) {
		struct kn_entry *e = &m->e[i];
		if (e->to != OPEN)
			continue;
		bool keep = false;
		for (int j = 0; j < s.n && !keep; j++)
			if (!have[j] && s.v6[j] == !!(e->obj & V6) && !memcmp(s.a[j], e->addr, 16))
				keep = have[j] = true;
		if (!keep)
			close_entry(m, e, now_ns);
	}
	/* an address new to it: held since its creation (the watch tells later), else since now */
	int64_t from = rfc3339_ns(get(md, "creationTimestamp"));
	if (from < 0 || from > now_ns)
		from = now_ns;
	for (int j = 0; j < s.n; j++)
		if (!have[j] && add_entry(m, oi, s.a[j], s.v6[j], from))
			return -1;
	return 0;
}

uint32_t kube_names_relist_begin_gen(struct kube_names *m, enum kn_kind kind)
{
	return (unsigned)kind < KN_KINDS ? ++m->gen[kind] : 0;
}

void kube_names_relist_begin(struct kube_names *m, enum kn_kind kind)
{
	kube_names_relist_begin_gen(m, kind);
}

void kube_names_relist_end_in(struct kube_names *m, enum kn_kind kind, uint32_t gen, const char *ns,
			      int64_t now_ns)
{
	size_t nl = ns ? strlen(ns) : 0;

	if ((unsigned)kind >= KN_KINDS)
		return;
	for (uint32_t oi = 0; oi < m->no; oi++) {
		const char *name = m->pool + m->o[oi].name;
		/* applied since the list began: gen or later (another namespace's relist may have moved it on) */
		if (m->o[oi].kind != kind || (int32_t)(m->o[oi].gen - gen) >= 0 ||
		    (ns && (strncmp(name, ns, nl) || name[nl] != '/')))
			continue;
		for (uint32_t i = m->o[oi].head; i != NONE; i = m->e[i].onext)
			if (m->e[i].to == OPEN)
				close_entry(m, &m->e[i], now_ns);
	}
}

void kube_names_relist_end(struct kube_names *m, enum kn_kind kind, int64_t now_ns)
{
	if ((unsigned)kind < KN_KINDS)
		kube_names_relist_end_in(m, kind, m->gen[kind], NULL, now_ns);
}

const char *kube_names_lookup_bin(const struct kube_names *m, const void *addr, size_t len, int64_t ts_ns,
				  enum kn_kind *kind)
{
	uint8_t a[16] = { 0 };
	bool v6 = len == 16;
	const struct kn_entry *best = NULL;

	if (len != 4 && len != 16)
		return NULL;
	memcpy(a, addr, len);
	for (uint32_t i = m->abucket[addr_hash(a, v6) & (m->nabucket - 1)]; i != NONE; i = m->e[i].next) {
		const struct kn_entry *e = &m->e[i];
		if (!!(e->obj & V6) != v6 || memcmp(e->addr, a, 16) || ts_ns < e->from || ts_ns >= e->to)
			continue;
		/* overlapping holders: the one that ended first held it then (see kube/names.h) */
		if (!best || e->to < best->to || (e->to == best->to && e->from > best->from))
			best = e;
	}
	if (!best)
		return NULL;
	const struct kn_obj *o = &m->o[best->obj & ~V6];
	if (kind)
		*kind = o->kind;
	return m->pool + o->name;
}

const char *kube_names_lookup(const struct kube_names *m, const char *addr, int64_t ts_ns, enum kn_kind *kind)
{
	uint8_t b[16];

	if (inet_pton(AF_INET, addr, b) == 1)
		return kube_names_lookup_bin(m, b, 4, ts_ns, kind);
	if (inet_pton(AF_INET6, addr, b) == 1)
		return kube_names_lookup_bin(m, b, 16, ts_ns, kind);
	return NULL;
}

int kube_names_prune(struct kube_names *m, int64_t before_ns)
{
	struct kube_names *n = kube_names_new();

	if (!n)
		return -1;
	memcpy(n->gen, m->gen, sizeof(n->gen));
	for (uint32_t oi = 0; oi < m->no; oi++) {
		uint32_t list[64], k = 0, no = NONE;
		/* its newest 64 intervals (more is a pod changing address that often: the oldest go),
		 * added oldest first so the newest stays at the chain's head */
		for (uint32_t i = m->o[oi].head; i != NONE && k < 64; i = m->e[i].onext)
			if (m->e[i].to >= before_ns)
				list[k++] = i;
		if (!k)
			continue;	/* nothing left of it: forgotten */
		no = find_obj(n, m->o[oi].kind, m->pool + m->o[oi].name);
		if (no == NONE)
			goto oom;
		n->o[no].gen = m->o[oi].gen;
		while (k--) {
			const struct kn_entry *e = &m->e[list[k]];
			if (add_entry(n, no, e->addr, e->obj & V6, e->from))
				goto oom;
			if (e->to != OPEN)
				close_entry(n, &n->e[n->ne - 1], e->to);
		}
	}
	struct kube_names tmp = *m;
	*m = *n;
	*n = tmp;
	kube_names_free(n);
	return 0;
oom:
	kube_names_free(n);
	return -1;
}

size_t kube_names_bytes(const struct kube_names *m)
{
	return sizeof(*m) + (size_t)m->cape * sizeof(*m->e) + (size_t)m->nabucket * sizeof(*m->abucket) +
	       (size_t)m->capo * sizeof(*m->o) + (size_t)m->nobucket * sizeof(*m->obucket) + m->cappool;
}

void kube_names_counts(const struct kube_names *m, size_t *open, size_t *closed)
{
	*open = m->nopen;
	*closed = m->ne - m->nopen;
}
