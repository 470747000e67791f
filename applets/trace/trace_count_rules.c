/* retina trace --count: counts by key, as a table and JSON, and read back (see trace_count.h). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "applets/trace/trace_count.h"

static bool same_key(const struct count_key *a, const struct count_key *b)
{
	return a->netns == b->netns && a->ifindex == b->ifindex && a->dport == b->dport && !strcmp(a->type, b->type) &&
	       !strcmp(a->reason, b->reason) && !strcmp(a->location, b->location) &&
	       !strcmp(a->ifname, b->ifname) && !strcmp(a->proto, b->proto);
}

static struct count_entry *find(struct count_table *t, const char *node, const struct count_key *k, bool add)
{
	/* the last one found first: a tracer's keys come in the same order each interval */
	for (size_t i = t->n; i-- > 0;)
		if (!strcmp(t->v[i].node, node) && same_key(&t->v[i].k, k))
			return &t->v[i];
	if (!add)
		return NULL;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct count_entry *nv = realloc(t->v, ncap * sizeof(*nv));
		if (!nv)
			return NULL;
		t->v = nv;
		t->cap = ncap;
	}
	struct count_entry *e = &t->v[t->n++];
	memset(e, 0, sizeof(*e));
	e->k = *k;
	snprintf(e->node, sizeof(e->node), "%s", node);
	return e;
}

int count_table_add(struct count_table *t, const char *node, const struct count_key *k, uint64_t n)
{
	struct count_entry *e = find(t, node, k, true);

	if (!e)
		return -1;
	e->total += n;
	e->delta += n;
	t->total += n;
	t->delta += n;
	return 0;
}

int count_table_set(struct count_table *t, const char *node, const struct count_key *k, uint64_t total)
{
	struct count_entry *e = find(t, node, k, true);

	if (!e)
		return -1;
	/* a kernel count only grows: a smaller one is a key read twice in one pass, not news */
	if (total > e->total)
		return count_table_add(t, node, k, total - e->total);
	return 0;
}

void count_table_tick(struct count_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		t->v[i].delta = 0;
	t->delta = t->unkeyed_delta = 0;
}

void count_table_free(struct count_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* A key's rows (one per node) and their sum: what is sorted and printed together. */
struct group {
	size_t first;		/* index into the sorted rows */
	size_t n;
	uint64_t total, delta;
};

static const struct count_table *sort_table;

static int cmp_rows(const void *a, const void *b)
{
	const struct count_entry *x = &sort_table->v[*(const size_t *)a], *y = &sort_table->v[*(const size_t *)b];
	const struct count_key *p = &x->k, *q = &y->k;
	int c;

	/* key first (a group's rows together), node last */
	if ((c = strcmp(p->type, q->type)) || (c = strcmp(p->reason, q->reason)) ||
	    (c = strcmp(p->location, q->location)) || (c = strcmp(p->proto, q->proto)) ||
	    (c = strcmp(p->ifname, q->ifname)))
		return c;
	if (p->netns != q->netns)
		return p->netns < q->netns ? -1 : 1;
	if (p->ifindex != q->ifindex)
		return p->ifindex < q->ifindex ? -1 : 1;
	if (p->dport != q->dport)
		return p->dport < q->dport ? -1 : 1;
	return strcmp(x->node, y->node);
}

static bool by_delta;

static int cmp_groups(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	uint64_t p = by_delta ? x->delta : x->total, q = by_delta ? y->delta : y->total;

	if (p != q)
		return p > q ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static void print_row(const char *node, const struct count_key *k, uint64_t count, double rate, bool node_col,
		      FILE *out)
{
	char port[8] = "-";

	if (node_col)
		fprintf(out, "%-20.63s ", node);
	if (k->dport)
		snprintf(port, sizeof(port), "%u", k->dport);
	fprintf(out, "%12llu %11.1f  %-9s %-24s %-5s %-5s %-15s %-10u %s\n", (unsigned long long)count, rate,
		k->type, k->reason, k->proto[0] ? k->proto : "-", port, k->ifname[0] ? k->ifname : "-", k->netns,
		k->location[0] ? k->location : "-");
}

void count_print_table(const struct count_table *t, const struct count_view *v, FILE *out)
{
	size_t *rows = malloc((t->n + 1) * sizeof(*rows));
	struct group *g = malloc((t->n + 1) * sizeof(*g));
	size_t ng = 0, shown = 0;
	double secs = v->secs > 0 ? v->secs : 1;

	fprintf(out, "%s: %llu events (%.1f/s)\n", v->title, (unsigned long long)(v->by_delta ? t->delta : t->total),
		(v->by_delta ? t->delta : t->total) / secs);
	if ((v->by_delta ? t->unkeyed_delta : t->unkeyed_total))
		fprintf(out, "  (%llu of them under no key: the kernel's key table was full)\n",
			(unsigned long long)(v->by_delta ? t->unkeyed_delta : t->unkeyed_total));
	if (v->node_col)
		fprintf(out, "%-20s ", "NODE");
	fprintf(out, "%12s %11s  %-9s %-24s %-5s %-5s %-15s %-10s %s\n", "COUNT", "RATE/s", "TYPE", "REASON", "PROTO",
		"DPORT", "IFACE", "NETNS", "LOCATION");
	if (!rows || !g) {
		fputs("(out of memory)\n", out);
		goto out;
	}
	for (size_t i = 0; i < t->n; i++)
		rows[i] = i;
	sort_table = t;
	qsort(rows, t->n, sizeof(*rows), cmp_rows);
	for (size_t i = 0; i < t->n; i++) {
		const struct count_entry *e = &t->v[rows[i]];
		if (!ng || !same_key(&t->v[rows[g[ng - 1].first]].k, &e->k))
			g[ng++] = (struct group){ .first = i };
		g[ng - 1].n++;
		g[ng - 1].total += e->total;
		g[ng - 1].delta += e->delta;
	}
	by_delta = v->by_delta;
	qsort(g, ng, sizeof(*g), cmp_groups);
	for (size_t i = 0; i < ng; i++) {
		if (v->by_delta && !g[i].delta)
			break;	/* idle this interval: the busiest are above */
		if (v->top && shown == v->top) {
			fprintf(out, "(%zu more keys; --top shows more)\n", ng - i);
			break;
		}
		shown++;
		for (size_t j = 0; j < g[i].n; j++) {
			const struct count_entry *e = &t->v[rows[g[i].first + j]];
			uint64_t n = v->by_delta ? e->delta : e->total;
			if (g[i].n > 1 && v->by_delta && !e->delta)
				continue;
			print_row(e->node, &e->k, e->total, n / secs, v->node_col, out);
		}
		if (v->node_col && g[i].n > 1)
			print_row("*", &t->v[rows[g[i].first]].k, g[i].total, (v->by_delta ? g[i].delta : g[i].total) / secs,
				  true, out);
	}
	if (!shown)
		fputs("(no events)\n", out);
out:
	free(rows);
	free(g);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void count_print_json(const struct count_table *t, const char *ts, double secs, bool final, uint64_t extra_missed,
		      FILE *out)
{
	double s = secs > 0 ? secs : 1;
	uint64_t events = final ? t->total : t->delta, unkeyed = final ? t->unkeyed_total : t->unkeyed_delta;
	bool first = true;

	fprintf(out, "{\"type\":\"COUNTS\",\"ts\":");
	put_json_str(out, ts);
	fprintf(out, ",\"final\":%s,\"%s\":%.3f,\"events\":%llu,\"rate\":%.1f,\"unkeyed\":%llu,", final ? "true" : "false",
		final ? "duration_s" : "interval_s", secs, (unsigned long long)events, events / s,
		(unsigned long long)unkeyed);
	if (final)
		fprintf(out, "\"lost\":0,\"missed\":%llu,", (unsigned long long)extra_missed);
	fputs("\"keys\":[", out);
	for (size_t i = 0; i < t->n; i++) {
		const struct count_entry *e = &t->v[i];
		uint64_t n = final ? e->total : e->delta;
		if (!n)
			continue;
		fputs(first ? "{" : ",{", out);
		first = false;
		if (e->node[0]) {
			fputs("\"node\":", out);
			put_json_str(out, e->node);
			fputc(',', out);
		}
		fputs("\"type\":", out);
		put_json_str(out, e->k.type);
		fputs(",\"reason\":", out);
		put_json_str(out, e->k.reason);
		fputs(",\"location\":", out);
		put_json_str(out, e->k.location);
		fprintf(out, ",\"netns\":%u,\"ifindex\":%u,\"ifname\":", e->k.netns, e->k.ifindex);
		put_json_str(out, e->k.ifname);
		fputs(",\"proto\":", out);
		put_json_str(out, e->k.proto);
		fprintf(out, ",\"dport\":%u,\"count\":%llu,\"rate\":%.1f}", e->k.dport, (unsigned long long)n, n / s);
	}
	fputs("]}\n", out);
}

static bool jcount(const cJSON *o, const char *key, uint64_t max, uint64_t *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > (double)max ||
	    j->valuedouble != (double)(uint64_t)j->valuedouble)
		return false;
	*v = (uint64_t)j->valuedouble;
	return true;
}

static bool jtext(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(j) || strlen(j->valuestring) >= len)
		return false;
	/* a pod's words never drive the terminal */
	for (size_t i = 0; j->valuestring[i]; i++)
		buf[i] = (unsigned char)j->valuestring[i] < 0x20 || j->valuestring[i] == 0x7f ? ' ' : j->valuestring[i];
	buf[strlen(j->valuestring)] = '\0';
	return true;
}

/* One "keys" element; false when a field is missing or out of range. */
static bool parse_key(const cJSON *o, struct count_key *k, uint64_t *n)
{
	uint64_t netns, ifindex, dport;

	memset(k, 0, sizeof(*k));
	return cJSON_IsObject(o) && jtext(o, "type", k->type, sizeof(k->type)) &&
	       jtext(o, "reason", k->reason, sizeof(k->reason)) &&
	       jtext(o, "location", k->location, sizeof(k->location)) &&
	       jtext(o, "ifname", k->ifname, sizeof(k->ifname)) && jtext(o, "proto", k->proto, sizeof(k->proto)) &&
	       jcount(o, "netns", UINT32_MAX, &netns) && jcount(o, "ifindex", UINT32_MAX, &ifindex) &&
	       jcount(o, "dport", 65535, &dport) && jcount(o, "count", UINT64_MAX >> 11, n) &&
	       (k->netns = netns, k->ifindex = ifindex, k->dport = dport, true);
}

int count_parse_json(struct count_table *t, const char *node, const char *line)
{
	cJSON *o = line[0] == '{' ? cJSON_ParseWithOpts(line, NULL, true) : NULL;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(o, "keys"), *it;
	struct count_entry *parsed = NULL;
	size_t n = 0;
	uint64_t unkeyed = 0;
	int ret = -1;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "COUNTS")) {
		cJSON_Delete(o);
		return 0;
	}
	bool final = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "final"));
	if (!cJSON_IsArray(keys) || !jcount(o, "unkeyed", UINT64_MAX >> 11, &unkeyed))
		goto out;
	parsed = calloc(cJSON_GetArraySize(keys) + 1, sizeof(*parsed));
	if (!parsed)
		goto out;
	/* all or nothing: a half-read line would skew the sums */
	cJSON_ArrayForEach(it, keys)
		if (!parse_key(it, &parsed[n].k, &parsed[n].total) || !parsed[n++].total)
			goto out;
	for (size_t i = 0; i < n; i++)
		if ((final ? count_table_set : count_table_add)(t, node, &parsed[i].k, parsed[i].total))
			goto out;
	if (!final) {	/* a final line's is the sum of the intervals' (the table may hold other nodes) */
		t->unkeyed_total += unkeyed;
		t->unkeyed_delta += unkeyed;
	}
	ret = final ? 2 : 1;
out:
	free(parsed);
	cJSON_Delete(o);
	return ret;
}
