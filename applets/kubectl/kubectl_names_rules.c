/*
 * kubectl retina bpftrace: the names of an event's addresses (kube/names.c)
 * as JSON fields and beside the table's addresses. Pure, like the rest of
 * the line handling (kubectl_bpftrace_rules.c).
 */
#include <stdio.h>
#include <string.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "kube/names.h"

static const char *jip(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int bt_names_of(const struct kube_names *m, const cJSON *o, struct bt_names *out)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
	uint64_t ns;
	const char *ip;

	memset(out, 0, sizeof(*out));
	if (!m || !cJSON_IsString(ts) || bt_parse_ts(ts->valuestring, &ns) || ns > INT64_MAX)
		return 0;
	if ((ip = jip(o, "src_ip")))
		out->src = kube_names_lookup(m, ip, (int64_t)ns, &out->src_kind);
	if ((ip = jip(o, "dst_ip")))
		out->dst = kube_names_lookup(m, ip, (int64_t)ns, &out->dst_kind);
	return !!out->src + !!out->dst;
}

/* one "dir_kind":"name", field at buf + *w, when it fits (memcpy, not snprintf: this runs per event) */
static void put_field(char *buf, size_t len, size_t *w, const char *dir, enum kn_kind kind, const char *name)
{
	const char *key = kube_names_key(kind);
	size_t kl = strlen(key), nl = strlen(name), need = 1 + 4 + kl + 3 + nl + 2;

	if (*w + need >= len)
		return;
	char *p = buf + *w;
	*p++ = '"';
	memcpy(p, dir, 4);	/* "src_" or "dst_" */
	p += 4;
	memcpy(p, key, kl);
	p += kl;
	memcpy(p, "\":\"", 3);
	p += 3;
	memcpy(p, name, nl);
	p += nl;
	memcpy(p, "\",", 2);
	*w += need;
	buf[*w] = '\0';
}

size_t bt_names_json(const struct bt_names *n, char *buf, size_t len)
{
	size_t w = 0;

	buf[0] = '\0';
	/* names are [a-z0-9-./] only (kube_names_apply refuses others): no escaping needed */
	if (n->src)
		put_field(buf, len, &w, "src_", n->src_kind, n->src);
	if (n->dst)
		put_field(buf, len, &w, "dst_", n->dst_kind, n->dst);
	return w;
}

void bt_names_beside(char *ep, size_t len, const char *name, enum kn_kind kind)
{
	size_t used = strlen(ep);

	if (name && used < len)
		snprintf(ep + used, len - used, " (%s %s)", kube_names_key(kind), name);
}

bool bt_names_key(const char *key)
{
	/* per key of every event: "src_"/"dst_" first, cheaply */
	if (!((key[0] == 's' && key[1] == 'r' && key[2] == 'c') || (key[0] == 'd' && key[1] == 's' && key[2] == 't')) ||
	    key[3] != '_')
		return false;
	return !strcmp(key + 4, "pod") || !strcmp(key + 4, "svc") || !strcmp(key + 4, "node");
}
