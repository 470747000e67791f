/* kubectl retina bpftrace: a pod's JSON lines rendered, counted, summed up (see kubectl_bpftrace.h). */
#define _GNU_SOURCE	/* memmem */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <linux/netfilter/nf_tables.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "applets/kubectl/kubectl_retina.h"
#include "applets/trace/trace.h"
#include "lib/base64.h"
#include "lib/caps.h"
#include "lib/retina.h"

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

static bool is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

/*
 * Text from a pod drives no terminal: control characters become blanks.
 * Runs of clean bytes go out in one fwrite, not one locked fputc per byte.
 */
static void put_clean(FILE *out, const char *s)
{
	while (*s) {
		size_t n = 0;
		while (s[n] && !is_ctl(s[n]))
			n++;
		fwrite(s, 1, n, out);
		for (s += n; *s && is_ctl(*s); s++)
			fputc(' ', out);
	}
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
	f = cJSON_GetObjectItemCaseSensitive(o, "stack_cut");
	if (cJSON_IsNumber(f) && f->valuedouble >= 1 && f->valuedouble <= TRACE_MAX_FRAMES)
		fprintf(out, STACK_CUT_LINE, (unsigned)f->valuedouble);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stack_reused")))
		fputs(STACK_REUSED_LINE, out);
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

/* An event's object printed anew: the packet gone (-w), "node" and the names ours. */
static void print_tree(const struct bt_stream *s, const struct bt_render *r, cJSON *o, const struct bt_names *nm,
		       FILE *out)
{
	while (r->packet && (cJSON_GetObjectItemCaseSensitive(o, "packet") ||
			     cJSON_GetObjectItemCaseSensitive(o, "packet_len"))) {	/* each, if twice */
		cJSON_DeleteItemFromObjectCaseSensitive(o, "packet");
		cJSON_DeleteItemFromObjectCaseSensitive(o, "packet_len");
	}
	for (cJSON *it = o->child, *nx; it; it = nx) {
		nx = it->next;
		if (it->string && (!strcmp(it->string, "node") || (r->names && bt_names_key(it->string))))
			cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
	}
	char key[16];
	if (nm->src) {
		snprintf(key, sizeof(key), "src_%s", kube_names_key(nm->src_kind));
		cJSON_AddStringToObject(o, key, nm->src);
	}
	if (nm->dst) {
		snprintf(key, sizeof(key), "dst_%s", kube_names_key(nm->dst_kind));
		cJSON_AddStringToObject(o, key, nm->dst);
	}
	cJSON_AddStringToObject(o, "node", s->node);
	char *txt = cJSON_PrintUnformatted(o);
	if (txt)
		fprintf(out, "%s\n", txt);
	free(txt);
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
		put_clean(err, line);
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
			print_tree(s, r, o, &nm, out);
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

/* ---- the command line ---- */

static const char bt_usage[] =
	"usage: kubectl retina bpftrace [OPTIONS] NODE [NODE...]\n"
	"       kubectl retina bpftrace [OPTIONS] -l SELECTOR\n"
	"       kubectl retina bpftrace [OPTIONS] pods/NAME [pods/NAME...] | --pod-selector LABELS\n"
	"\n"
	"Trace packet drops, RSTs, socket errors and retransmits on nodes: a pod per\n"
	"node runs `retina trace -o json` there (capabilities BPF and PERFMON only) and\n"
	"the events of all of them are shown here, with a NODE column for several.\n"
	"Every pod is deleted on Ctrl-C, SIGTERM, --duration and errors; a summary per\n"
	"node (counts by type and reason, events lost) goes to stderr. A node whose pod\n"
	"fails is reported and the others keep tracing (exit code 1 in the end).\n"
	"Each event names the pods, services and nodes of its addresses (src_pod,\n"
	"dst_svc, ... in JSON; (pod NS/NAME) beside the address in the table), from a\n"
	"list and watch of pods, services and nodes (docs/rbac.md).\n"
	"The trace flags are retina trace's (below), checked here before any pod.\n"
	"\n"
	"Options:\n"
	"  -l, --selector SEL                every Linux node matching the label selector\n"
	"      pods/NAME                     the pod's node, only the pod's addresses (in -n NS; several:\n"
	"                                    each node once, the union of the addresses)\n"
	"      --pod-selector LABELS         the same for every running pod matching LABELS in -n NS\n"
	"      --max-nodes N                 allow up to N trace pods (needed above 20)\n"
	"      --startup-timeout D           how long to wait for the trace pods to start (30s)\n"
	"      --retina-shell-image-repo R   image repository (env RETINA_SHELL_IMAGE_REPO;\n"
	"                                    default: the build's: kubectl retina version)\n"
	"      --retina-shell-image-version V  image tag (env RETINA_SHELL_IMAGE_VERSION;\n"
	"                                    default this binary's version, ";
static const char bt_usage_own[] =
	")\n"
	"      --ship-binary                 no registry: this binary goes to the nodes in a ConfigMap\n"
	"                                    and runs in an image each node has (its pause image)\n"
	"      --retina-binaries DIR         with --ship-binary: where the retina of another\n"
	"                                    architecture is (make dist's retina-V-linux-ARCH/)\n"
	"      --kubeconfig FILE             kubeconfig file (else KUBECONFIG, ~/.kube/config)\n"
	"      --context NAME                kubeconfig context\n"
	"      --request-timeout D           give up on an API request after D (30s; 0: never)\n"
	"  -n, --namespace NS                where the trace pods run (and pods/NAME are looked up)\n"
	"  -v, --verbose N                   log API requests (1: method, URL, status, latency)\n"
	"\n";
static const char bt_examples[] =
	"\n"
	"Examples:\n"
	"  kubectl retina bpftrace node-1\n"
	"  kubectl retina bpftrace node-1 --drops --ip 10.0.0.4 --duration 60s\n"
	"  kubectl retina bpftrace node-1 node-2 --rst --port 443 -o json | jq .\n"
	"  kubectl retina bpftrace -l agentpool=blue --drops\n"
	"  kubectl retina bpftrace node-1 --drops --reason NETFILTER_DROP --stack\n"
	"  kubectl retina bpftrace node-1 --drops --stack --nft --allow-system-changes\n"
	"  kubectl retina bpftrace node-1 node-2 --drops --ip 10.0.0.4 -w drops.pcapng\n"
	"  kubectl retina bpftrace -l agentpool=blue --drops -w - | tshark -r -\n"
	"  kubectl retina bpftrace -l agentpool=blue --drops --count --top 10\n"
	"  kubectl retina bpftrace pods/web-0 -n shop --drops\n"
	"  kubectl retina bpftrace --pod-selector app=web -n shop --rst -o json\n";


static const char *node_name(const char *arg)
{
	const char *n = arg;

	if (!strncmp(n, "node/", 5))
		n += 5;
	else if (!strncmp(n, "nodes/", 6))
		n += 6;
	else if (!strncmp(n, "no/", 3))
		n += 3;
	if (!n[0] || strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(n) || strlen(n) > 253)
		usage_error("'%s' is not a valid node name (lowercase letters, digits, '-' and '.')", arg);
	return n;
}

bool bt_pod_arg(const char *arg, const char **name)
{
	static const char *const prefixes[] = { "pods/", "pod/", "po/" };

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(arg, prefixes[i], n))
			continue;
		const char *p = arg + n;
		if (!p[0] || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(p) || strlen(p) > 253)
			usage_error("'%s' is not a valid pod name (lowercase letters, digits, '-' and '.')", arg);
		*name = p;
		return true;
	}
	return false;
}

void bt_check_nodes(const struct bt_args *a, size_t n, const char *what)
{
	if (a->max_nodes && n > a->max_nodes)
		usage_error("%zu nodes %s, more than --max-nodes %llu: raise it to %zu or trace fewer nodes", n, what,
			    (unsigned long long)a->max_nodes, n);
	if (!a->max_nodes && n > BT_NODES_WITHOUT_FLAG)
		usage_error("%zu nodes %s: a trace pod on more than %d nodes needs --max-nodes %zu", n, what,
			    BT_NODES_WITHOUT_FLAG, n);
}

/* One option of the plugin's own (the trace flags went to a->t). */
static void own_option(struct bt_args *a, int c, const char *arg)
{
	uint64_t v;

	if (kubectl_connection_opt(c, arg, &a->load))
		return;
	switch (c) {
	case 'l':
		/* the server parses it; we only keep out what no selector holds */
		if (!arg[0] || strlen(arg) > 256 ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=!,() ") != strlen(arg))
			usage_error("bad -l '%s': a label selector like agentpool=blue or 'zone in (a,b)'", arg);
		a->selector = arg;
		break;
	case KO_POD_SELECTOR:
		if (!arg[0] || strlen(arg) > 256 ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=!,() ") != strlen(arg))
			usage_error("bad --pod-selector '%s': a label selector like app=web", arg);
		a->pod_selector = arg;
		break;
	case KO_MAX_NODES:
		if (parse_u64(arg, 1, 100000, &a->max_nodes))
			usage_error("bad --max-nodes '%s': a number of nodes from 1 to 100000", arg);
		break;
	case KO_STARTUP:
		if (parse_duration_ms(arg, &a->startup_ms) || !a->startup_ms || a->startup_ms > 86400000)
			usage_error("bad --startup-timeout '%s': a duration like 30s, 2m or 1m30s", arg);
		break;
	case KO_REPO: a->repo = arg; break;
	case KO_VERSION: a->version = arg; break;
	case KO_SHIP: a->ship.on = true; break;
	case KO_BINARIES: a->ship.bin_dir = arg; break;
	case 'v':
		if (parse_u64(arg, 0, 9, &v))
			usage_error("bad -v '%s': a level from 0 to 9", arg);
		a->verbosity = (int)v;
		break;
	case 'h':
		printf("%s%s%s", bt_usage, a->default_version, bt_usage_own);
		trace_opts_help(stdout, TF_PLUGIN);
		fputs(bt_examples, stdout);
		exit(EXIT_OK);
	}
}

/* pods/NAME out of the node list (argv shrinks); pods or nodes, not both. */
static int parse_pods(int argc, char **argv, struct bt_args *a)
{
	const char *pod;

	for (int i = optind; i < argc; i++)
		if (bt_pod_arg(argv[i], &pod)) {
			if (!a->pods && !(a->pods = calloc(argc - optind + 1, sizeof(*a->pods))))
				die(EXIT_FAIL, "out of memory");
			a->pods[a->npods++] = pod;
			memmove(argv + i, argv + i + 1, (argc - i - 1) * sizeof(*argv));
			argc--, i--;
		}
	if ((a->npods || a->pod_selector) && (optind < argc || a->selector))
		usage_error("give pods (pods/NAME, --pod-selector) or nodes (NODE, -l), not both");
	if ((a->npods || a->pod_selector) && a->t.f.nnets)
		usage_error("pods/NAME and --pod-selector filter on the pods' addresses: leave out --ip and --cidr");
	return argc;
}

/* NODE [NODE...] or -l: each node once. */
static void parse_nodes(int argc, char **argv, struct bt_args *a)
{
	argc = parse_pods(argc, argv, a);
	if (optind >= argc && !a->selector && !a->npods && !a->pod_selector)
		usage_error("which nodes? give NODE [NODE...], -l SELECTOR, pods/NAME or --pod-selector LABELS");
	if (optind < argc && a->selector)
		usage_error("give nodes or -l SELECTOR, not both (got '%s' and -l '%s')", argv[optind], a->selector);
	a->names = calloc(argc - optind + 1, sizeof(*a->names));
	if (!a->names)
		die(EXIT_FAIL, "out of memory");
	for (int i = optind; i < argc; i++) {
		const char *n = node_name(argv[i]);
		bool dup = false;
		for (size_t j = 0; j < a->nnodes && !dup; j++)
			dup = !strcmp(a->names[j], n);
		if (!dup)
			a->names[a->nnodes++] = n;
	}
	if (a->nnodes)
		bt_check_nodes(a, a->nnodes, "given");
}

void bt_parse_args(int argc, char **argv, struct bt_args *a)
{
	const struct kubectl_cmd *cmd = kubectl_cmd_find("bpftrace");
	char err[300];
	int c;

	trace_opts_init(&a->t);
	a->startup_ms = 30000;
	optind = 0;	/* from the start (glibc, musl), for a second parse too */
	while ((c = trace_opts_next(argc, argv, cmd->shortopts, cmd->longopts, &a->t)) != -1)
		own_option(a, c, optarg);
	parse_nodes(argc, argv, a);
	/* the tracer's own checks, here: a bad combination exits 2 before any pod */
	if (trace_opts_check(&a->t, TF_PLUGIN, err, sizeof(err)))
		usage_error("%s", err);
	a->render.json = a->t.json;
	a->argc = trace_opts_argv(&a->t, a->argv, BT_MAX_TRACE_ARGS, a->argbuf, sizeof(a->argbuf));
	if (a->argc < 0)
		usage_error("too many filters (at most %d arguments)", BT_MAX_TRACE_ARGS - 8);
	a->spec.command = a->argv;
	/*
	 * what retina trace needs on 5.8+ (docs/trace.md): load BPF, attach
	 * tracepoints; --stack: SYSLOG, or /proc/kallsyms reads as zeros (raw
	 * addresses); --nft: NET_ADMIN to add its nftables table. Only when asked.
	 */
	a->spec.caps = CAPBIT(CAPN_BPF) | CAPBIT(CAPN_PERFMON);
	if (a->t.f.stack_types)
		a->spec.caps |= CAPBIT(CAPN_SYSLOG);
	if (a->t.f.nft)
		a->spec.caps |= CAPBIT(CAPN_NET_ADMIN);
}
