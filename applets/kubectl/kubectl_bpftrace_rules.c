/* kubectl retina bpftrace: a pod's JSON lines rendered, counted, summed up (see kubectl_bpftrace.h). */
#define _GNU_SOURCE	/* memmem */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <linux/netfilter/nf_tables.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "applets/trace/trace.h"
#include "lib/base64.h"

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

/* A count from the pod: negative, junk or absent is 0; beyond 2^64 saturates. */
static uint64_t count_of(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
		return 0;
	return v->valuedouble >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v->valuedouble;
}

static uint64_t jnum(const cJSON *o, const char *key)
{
	return count_of(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void count(struct bt_stream *s, const char *type, const char *reason)
{
	s->events++;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].type, type) && !strcmp(s->v[i].reason, reason)) {
			s->v[i].n++;
			return;
		}
	if (s->n == BT_MAX_REASONS) {
		s->other++;
		return;
	}
	snprintf(s->v[s->n].type, sizeof(s->v[0].type), "%s", type);
	snprintf(s->v[s->n].reason, sizeof(s->v[0].reason), "%s", reason);
	s->v[s->n++].n = 1;
}

/* As the tracer's table writes it: a port for TCP/UDP/SCTP, IPv6 in brackets then. */
static void endpoint(const cJSON *o, const char *ipkey, const char *portkey, char *buf, size_t len)
{
	const cJSON *ip = cJSON_GetObjectItemCaseSensitive(o, ipkey);
	const char *proto = jstr(o, "proto");
	bool ports = !strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "sctp");

	if (!cJSON_IsString(ip)) {
		snprintf(buf, len, "-");
		return;
	}
	bool v6 = strchr(ip->valuestring, ':');
	if (ports)
		snprintf(buf, len, "%s%s%s:%llu", v6 ? "[" : "", ip->valuestring, v6 ? "]" : "",
			 (unsigned long long)jnum(o, portkey));
	else
		snprintf(buf, len, "%s", ip->valuestring);
}

/* Text from a pod drives no terminal: control characters become blanks. */
static void put_clean(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, out);
}

/* The tracer's "nft" object back into what nft_trace_format() takes; false when it names no table. */
static bool nft_from_json(const cJSON *j, struct nft_trace *t)
{
	const cJSON *family = cJSON_GetObjectItemCaseSensitive(j, "family");
	const cJSON *handle = cJSON_GetObjectItemCaseSensitive(j, "handle");

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(j) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "table")))
		return false;
	for (unsigned p = 0; p < 16 && cJSON_IsString(family); p++)
		if (!strcmp(nft_family_name(p), family->valuestring)) {
			t->nfproto = p;
			break;
		}
	snprintf(t->table, sizeof(t->table), "%s", jstr(j, "table"));
	snprintf(t->chain, sizeof(t->chain), "%s", jstr(j, "chain"));
	t->table_handle = jnum(j, "table_handle");
	t->chain_handle = jnum(j, "chain_handle");
	t->has_handle = cJSON_IsNumber(handle);
	t->handle = jnum(j, "handle");
	t->type = t->has_handle ? NFT_TRACETYPE_RULE : NFT_TRACETYPE_POLICY;
	return true;
}

/*
 * Lines under a table row for fields beyond Retina's, as `retina trace`
 * prints them: --nft's rule ("nft"), then --stack's frames ("stack").
 */
static void bt_render_extra(const cJSON *o, FILE *out)
{
	const cJSON *f;
	struct nft_trace t;
	char rule[256];

	if (nft_from_json(cJSON_GetObjectItemCaseSensitive(o, "nft"), &t)) {
		fputs("\n    nft: ", out);
		put_clean(out, nft_trace_format(&t, rule, sizeof(rule)));
	}
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(o, "stack"))
		if (cJSON_IsString(f)) {
			fputs("\n    ", out);
			put_clean(out, f->valuestring);
		}
}

long bt_packet_suffix(const char *line, size_t n)
{
	static const char key[] = ",\"packet_len\":", mid[] = ",\"packet\":\"";
	const char *p = NULL;

	/* the last ",\"packet_len\":" in the line: nothing after it but digits and base64 */
	for (const char *q = line; (q = memmem(q, line + n - q, key, sizeof(key) - 1)); q++)
		p = q;
	if (!p || n < 2 || line[n - 1] != '}' || line[n - 2] != '"')
		return -1;
	const char *d = p + sizeof(key) - 1, *end = line + n - 2;
	size_t digits = 0;
	while (d < end && *d >= '0' && *d <= '9' && digits < 10)
		d++, digits++;
	if (!digits || (size_t)(end - d) < sizeof(mid) - 1 || memcmp(d, mid, sizeof(mid) - 1))
		return -1;
	for (d += sizeof(mid) - 1; d < end; d++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", *d) || !*d)
			return -1;
	return p - line;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int bt_parse_ts(const char *ts, uint64_t *ns)
{
	unsigned v[6], frac = 0, digits = 0;
	/* by hand, not sscanf: once per event when the plugin names addresses (a third of its cost) */
	static const char form[] = "dddd-dd-ddTdd:dd:dd";
	for (int i = 0, f = 0; i < 19; i++) {
		if (form[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != form[i])
			return -1;
		if (form[i] == 'd') {
			if (i == 0 || form[i - 1] != 'd')
				v[f++] = 0;
			v[f - 1] = v[f - 1] * 10 + (ts[i] - '0');
		}
	}
	unsigned y = v[0], mo = v[1], d = v[2], h = v[3], mi = v[4], sec = v[5];
	const char *p = ts + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits++ < 9)
				frac = frac * 10 + (*p - '0');
	if (p[0] != 'Z' || p[1] || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	while (digits++ < 9)
		frac *= 10;
	int64_t days = days_from_civil(y, mo, d);
	*ns = ((uint64_t)days * 86400 + h * 3600u + mi * 60u + sec) * 1000000000u + frac;
	return 0;
}

/* -w: the line's packet to the writer, with a comment naming the node and the event. */
static void emit_packet(struct bt_stream *s, const struct bt_render *r, const cJSON *o, const char *b64)
{
	const cJSON *netns = cJSON_GetObjectItemCaseSensitive(o, "netns");
	const cJSON *ifname = cJSON_GetObjectItemCaseSensitive(o, "ifname");
	char comment[256], rest[200];
	struct bt_packet p = { 0 };
	size_t len = 0;
	unsigned char *data = base64_decode(b64, &len);

	if (!data || !len || len > TRACE_SNAPLEN_MAX) {
		s->bad_packets++;
		free(data);
		return;
	}
	if (bt_parse_ts(jstr(o, "ts"), &p.ts_ns))
		p.ts_ns = 0;
	format_pcap_comment_text(jstr(o, "type"), jstr(o, "reason"), jstr(o, "probe"),
				 cJSON_IsNumber(netns) && netns->valuedouble > 0 && netns->valuedouble < 4294967296.0
					 ? (unsigned)netns->valuedouble : 0,
				 cJSON_IsString(ifname) ? ifname->valuestring : NULL, rest, sizeof(rest));
	snprintf(comment, sizeof(comment), "node=%s %s", s->node, rest);
	for (char *c = comment; *c; c++)	/* the pod's words: printable in any reader */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	p.data = data;
	p.caplen = len;
	p.origlen = jnum(o, "packet_len") > UINT32_MAX ? UINT32_MAX : (uint32_t)jnum(o, "packet_len");
	p.comment = comment;
	r->packet(r->packet_ctx, s, &p);
	s->packets++;
	free(data);
}

static void stats(struct bt_stream *s, const cJSON *o, FILE *err)
{
	const cJSON *t;

	s->stats_lines++;
	s->tracer_events = jnum(o, "events");
	s->lost = jnum(o, "lost");
	s->final_stats = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "final"));
	s->nlost_types = 0;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "lost_by_type")) {
		if (s->nlost_types == BT_MAX_TYPES || !t->string)
			break;
		snprintf(s->lost_by_type[s->nlost_types].type, sizeof(s->lost_by_type[0].type), "%s", t->string);
		s->lost_by_type[s->nlost_types++].n = count_of(t);
	}
	if (s->lost > s->lost_reported) {	/* never silent: said when it happens, and in the summary */
		fprintf(err, "%s: %llu events lost so far (the tracer's ring buffer was full)\n", s->node,
			(unsigned long long)s->lost);
		s->lost_reported = s->lost;
	}
}

enum bt_line bt_handle_line(struct bt_stream *s, const struct bt_render *r, const char *line, FILE *out,
			    FILE *err)
{
	/* the whole line one object, or it is text */
	cJSON *o = line[0] == '{' ? cJSON_ParseWithOpts(line, NULL, true) : NULL;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");

	if (!cJSON_IsString(type)) {
		cJSON_Delete(o);
		if (!line[0])
			return BT_EMPTY;
		/* the tracer's banner and warnings; its words never drive the terminal */
		fprintf(err, "%s: ", s->node);
		for (const char *p = line; *p; p++)
			fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, err);
		fputc('\n', err);
		return BT_TEXT;
	}
	if (!strcmp(type->valuestring, "STATS")) {
		stats(s, o, err);
		cJSON_Delete(o);
		return BT_STATS;
	}
	count(s, type->valuestring, jstr(o, "reason"));
	struct bt_names nm;
	bt_names_of(r->names, o, &nm);
	const cJSON *pkt = cJSON_GetObjectItemCaseSensitive(o, "packet");
	if (r->packet && cJSON_IsString(pkt))
		emit_packet(s, r, o, pkt->valuestring);
	if (r->json) {
		/*
		 * The tracer's line as it came, "node" added before its closing
		 * brace: a parsed object ends in '}' (trailing blanks aside), and
		 * the node name is a DNS label. Printing the tree anew would
		 * double the cost per event.
		 */
		size_t n = strlen(line);
		while (n && (unsigned char)line[n - 1] <= ' ')	/* what cJSON skips as blanks */
			n--;
		/* -w: the two packet fields go; cut off the text when they are its end and nowhere else */
		int npkt = 0, nnode = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, o) {
			npkt += it->string && (!strcmp(it->string, "packet") || !strcmp(it->string, "packet_len"));
			nnode += it->string && (!strcmp(it->string, "node") || (r->names && bt_names_key(it->string)));
		}
		bool strip = r->packet && npkt;
		long cut = strip && npkt == 2 ? bt_packet_suffix(line, n) : -1;
		/* "node" is ours: a pod's own (any value, any count) goes, so never splice then */
		bool splice = !nnode && n && line[n - 1] == '}' && (!strip || cut > 0);
		if (cut > 0)
			n = cut + 1;	/* as if the line's '}' came where the packet starts */
		char names[768];	/* two names of at most 317 bytes, keys and quotes */
		bt_names_json(&nm, names, sizeof(names));
		if (splice) {
			fprintf(out, "%.*s%s%s\"node\":\"%s\"}\n", (int)(n - 1), line,
				cJSON_GetArraySize(o) ? "," : "", names, s->node);
		} else {	/* the pod's own "node", or an unexpected text: print the tree */
			while (r->packet && (cJSON_GetObjectItemCaseSensitive(o, "packet") ||
					     cJSON_GetObjectItemCaseSensitive(o, "packet_len"))) {	/* each, if twice */
				cJSON_DeleteItemFromObjectCaseSensitive(o, "packet");
				cJSON_DeleteItemFromObjectCaseSensitive(o, "packet_len");
			}
			for (cJSON *it2 = o->child, *nx; it2; it2 = nx) {	/* "node" and the names are ours */
				nx = it2->next;
				if (it2->string && (!strcmp(it2->string, "node") || (r->names && bt_names_key(it2->string))))
					cJSON_Delete(cJSON_DetachItemViaPointer(o, it2));
			}
			char key[16];
			if (nm.src) {
				snprintf(key, sizeof(key), "src_%s", kube_names_key(nm.src_kind));
				cJSON_AddStringToObject(o, key, nm.src);
			}
			if (nm.dst) {
				snprintf(key, sizeof(key), "dst_%s", kube_names_key(nm.dst_kind));
				cJSON_AddStringToObject(o, key, nm.dst);
			}
			cJSON_AddStringToObject(o, "node", s->node);
			char *txt = cJSON_PrintUnformatted(o);
			if (txt)
				fprintf(out, "%s\n", txt);
			free(txt);
		}
	} else {
		const char *ts = jstr(o, "ts");
		char tbuf[16], src[384], dst[384], row[1024];
		/* "2026-11-22T01:30:04.123456789Z" -> "01:30:04.123", as the tracer's table */
		snprintf(tbuf, sizeof(tbuf), "%.12s", strlen(ts) >= 23 ? ts + 11 : ts);
		endpoint(o, "src_ip", "src_port", src, sizeof(src));
		endpoint(o, "dst_ip", "dst_port", dst, sizeof(dst));
		bt_names_beside(src, sizeof(src), nm.src, nm.src_kind);
		bt_names_beside(dst, sizeof(dst), nm.dst, nm.dst_kind);
		/* a node before 5.17 gives no drop reason: where the packet died, as the tracer's table */
		const char *reason = jstr(o, "reason");
		if (!strcmp(reason, "-"))
			reason = jstr(o, "location");
		struct trace_row row_f = { s->node, tbuf, type->valuestring, reason, jstr(o, "probe"), src, dst };
		format_row_text(&row_f, r->node_width, row, sizeof(row));
		fputs(row, out);
		bt_render_extra(o, out);
		fputc('\n', out);
	}
	cJSON_Delete(o);
	return BT_EVENT;
}

void bt_print_header(const struct bt_render *r, FILE *out)
{
	char head[512];

	format_header_node(head, sizeof(head), r->node_width);
	fprintf(out, "%s\n", head);
}

void bt_print_summary(const struct bt_stream *s, const char *prog, double secs, const char *failed, FILE *err)
{
	fprintf(err, "%s: node %s: %.1fs, %llu events, ", prog, s->node, secs, (unsigned long long)s->events);
	if (s->stats_lines)
		fprintf(err, "%llu lost (ring buffer full)", (unsigned long long)s->lost);
	else
		fputs("lost unknown (the tracer's counts never arrived)", err);
	if (failed)
		fprintf(err, "; FAILED: %s", failed);
	fputc('\n', err);
	/* types in the order they first came, each with its reasons */
	for (size_t i = 0; i < s->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(s->v[j].type, s->v[i].type);
		if (seen)
			continue;
		uint64_t n = 0, lost = 0;
		for (size_t j = i; j < s->n; j++)
			if (!strcmp(s->v[j].type, s->v[i].type))
				n += s->v[j].n;
		for (size_t j = 0; j < s->nlost_types; j++)
			if (!strcmp(s->lost_by_type[j].type, s->v[i].type))
				lost = s->lost_by_type[j].n;
		fprintf(err, "  %-9s %llu", s->v[i].type, (unsigned long long)n);
		if (lost)
			fprintf(err, " (+%llu lost)", (unsigned long long)lost);
		fputc('\n', err);
		for (size_t j = i; j < s->n; j++)
			if (!strcmp(s->v[j].type, s->v[i].type))
				fprintf(err, "    %-28s %llu\n", s->v[j].reason, (unsigned long long)s->v[j].n);
	}
	/* lost events of a type that delivered none */
	for (size_t j = 0; j < s->nlost_types; j++) {
		bool seen = false;
		for (size_t i = 0; i < s->n && !seen; i++)
			seen = !strcmp(s->v[i].type, s->lost_by_type[j].type);
		if (!seen && s->lost_by_type[j].n)
			fprintf(err, "  %-9s 0 (+%llu lost)\n", s->lost_by_type[j].type,
				(unsigned long long)s->lost_by_type[j].n);
	}
	if (s->other)
		fprintf(err, "  (%llu events of further reasons not itemized)\n", (unsigned long long)s->other);
	if (s->stats_lines && s->tracer_events > s->events)
		fprintf(err, "  (%llu events the tracer sent did not arrive here)\n",
			(unsigned long long)(s->tracer_events - s->events));
}
