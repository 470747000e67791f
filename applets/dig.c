/*
 * dig: DNS queries printed as bind9's dig prints them, through the shared
 * resolver (net/resolv.c), with the resolv.conf search list made visible.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/retina.h"
#include "net/addr.h"
#include "net/dns.h"
#include "net/resolv.h"

const char dig_help[] =
	"usage: retina dig [@SERVER] [-p PORT] [-t TYPE] [-x ADDR] [-4|-6] [NAME] [TYPE] [+OPTION...]\n"
	"\n"
	"Query DNS and print the answer as bind9's dig does. Without @SERVER the\n"
	"servers of /etc/resolv.conf are tried in order ($RETINA_RESOLV_CONF names\n"
	"another file).\n"
	"\n"
	"  @SERVER         server to ask (address or host name)\n"
	"  -p PORT         server port (default 53)\n"
	"  -t TYPE         A AAAA CNAME MX NS PTR SOA SRV TXT CAA ANY, or TYPEnnn\n"
	"  -x ADDR         reverse lookup: PTR of ADDR's in-addr.arpa/ip6.arpa name\n"
	"  -q NAME         the name to query (even if it looks like a type)\n"
	"  -4, -6          use only IPv4 / IPv6 servers from resolv.conf\n"
	"  +short          only the answer's data, one record per line\n"
	"  +tcp            TCP instead of UDP (UDP retries over TCP on truncation anyway)\n"
	"  +timeout=N      seconds per try (default: resolv.conf's timeout, else 5)\n"
	"  +tries=N        UDP tries per server (default: resolv.conf's attempts, else 3);\n"
	"                  +retry=N is tries-1\n"
	"  +search         apply resolv.conf's search list and ndots; each name\n"
	"                  tried is shown (the ndots:5 surprise inside pods)\n"
	"  +nosearch       the name as given (default)\n"
	"  +norecurse      clear RD: ask the server what it knows itself\n"
	"  +noedns         no EDNS0 OPT record (default: EDNS0, 1232-byte UDP)\n"
	"  +ignore         keep a truncated UDP answer instead of retrying over TCP\n"
	"\n"
	"Exit status: 0 when an answer arrived (whatever its status, as bind9),\n"
	"1 when no server answered or the answer was malformed, 2 on bad usage.\n"
	"\n"
	"Examples:\n"
	"  retina dig kubernetes.default.svc.cluster.local\n"
	"  retina dig +search kubernetes            which names the pod's search list tries\n"
	"  retina dig @10.96.0.10 -t SRV _https._tcp.kubernetes.default.svc.cluster.local +short\n"
	"  retina dig -x 10.244.1.7 +short\n";

struct dig_opts {
	const char *server;
	uint16_t port;
	const char *name;
	int type, family;
	bool reverse, shortout, tcp, tcp_set, search, recurse, edns, ignore_tc;
	int timeout_s, tries;
	char rev[80];		/* -x: the reverse name, o.name points here */
};

static const char *class_name(unsigned c, char buf[16])
{
	if (c == DNS_CLASS_IN)
		return "IN";
	if (c == 3)
		return "CH";
	snprintf(buf, 16, "CLASS%u", c);
	return buf;
}

/*
 * bind's column layout: a field starts at its target column (24, 32, 40, 48)
 * reached with tabs; when the text already reaches it, one space instead.
 */
static void pad_to(size_t *col, size_t target)
{
	if (*col >= target) {
		putchar(' ');
		(*col)++;
		return;
	}
	while (*col < target) {
		putchar('\t');
		*col = (*col / 8 + 1) * 8;
	}
}

static void print_field(size_t *col, const char *s)
{
	fputs(s, stdout);
	*col += strlen(s);
}

static int print_rr(const struct dns_msg *m, const struct dns_rr *rr, bool shortout)
{
	size_t tl = dns_rdata_text_max(rr), col = 0;
	char *text = malloc(tl), err[160], ttl[16], b1[16], b2[16];

	if (!text)
		die(EXIT_FAIL, "out of memory");
	if (dns_rdata_format(m, rr, text, tl, err, sizeof(err))) {
		free(text);
		return -1;
	}
	if (shortout) {
		puts(text);
		free(text);
		return 0;
	}
	snprintf(ttl, sizeof(ttl), "%u", rr->ttl);
	print_field(&col, rr->name);
	pad_to(&col, 24);
	print_field(&col, ttl);
	pad_to(&col, 32);
	print_field(&col, class_name(rr->rclass, b1));
	pad_to(&col, 40);
	print_field(&col, dns_type_name(rr->type, b2));
	pad_to(&col, 48);
	puts(text);
	free(text);
	return 0;
}

static void print_section(const struct dns_msg *m, enum dns_section s, const char *title)
{
	struct dns_iter it;
	struct dns_rr rr;
	bool any = false;

	dns_iter_init(&it, m, s);
	while (dns_iter_next(&it, &rr)) {
		if (rr.type == DNS_T_OPT)
			continue;
		if (!any)
			printf(";; %s SECTION:\n", title);
		any = true;
		print_rr(m, &rr, false);
	}
	if (any)
		putchar('\n');
}

static void print_full(const struct dns_msg *m, const struct dns_reply *r, const struct dig_opts *o,
		       const char *server_text, const char *server_name)
{
	static const struct { uint16_t bit; const char *name; } flags[] = {
		{ DNS_F_QR, "qr" }, { DNS_F_AA, "aa" }, { DNS_F_TC, "tc" }, { DNS_F_RD, "rd" },
		{ DNS_F_RA, "ra" }, { DNS_F_AD, "ad" }, { DNS_F_CD, "cd" },
	};
	char b1[16], b2[16], when[64];
	time_t now = time(NULL);
	unsigned additional = m->count[DNS_S_ADDITIONAL];

	if (r->truncated_udp)
		puts(";; Truncated, retrying in TCP mode.");
	puts(";; Got answer:");
	printf(";; ->>HEADER<<- opcode: %s, status: %s, id: %u\n", dns_opcode_name(m->opcode, b1),
	       dns_rcode_name(m->rcode, b2), m->id);
	fputs(";; flags:", stdout);
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (m->flags & flags[i].bit)
			printf(" %s", flags[i].name);
	printf("; QUERY: %u, ANSWER: %u, AUTHORITY: %u, ADDITIONAL: %u\n", m->qdcount, m->count[DNS_S_ANSWER],
	       m->count[DNS_S_AUTHORITY], additional);
	if (o->recurse && !(m->flags & DNS_F_RA))
		puts(";; WARNING: recursion requested but not available");
	putchar('\n');
	if (m->has_opt) {
		puts(";; OPT PSEUDOSECTION:");
		printf("; EDNS: version: %u, flags:%s; udp: %u\n", m->opt_version, (m->opt_flags & 0x8000) ? " do" : "",
		       m->opt_udp);
	}
	if (m->qdcount) {
		size_t col = 0;
		puts(";; QUESTION SECTION:");
		putchar(';');
		col = 0;	/* bind counts columns from the name, not the ";" */
		print_field(&col, m->qname);
		pad_to(&col, 32);	/* no TTL column in a question */
		print_field(&col, class_name(m->qclass, b1));
		pad_to(&col, 40);
		printf("%s\n\n", dns_type_name(m->qtype, b2));
	}
	print_section(m, DNS_S_ANSWER, "ANSWER");
	print_section(m, DNS_S_AUTHORITY, "AUTHORITY");
	print_section(m, DNS_S_ADDITIONAL, "ADDITIONAL");
	printf(";; Query time: %llu msec\n", (unsigned long long)(r->rtt_us / 1000));
	printf(";; SERVER: %s(%s) (%s)\n", server_text, server_name, r->via_tcp ? "TCP" : "UDP");
	strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Z %Y", localtime(&now));
	printf(";; WHEN: %s\n", when);
	printf(";; MSG SIZE  rcvd: %zu\n\n", r->len);
}

/* "+timeout=3" style options. */
static void plus_option(const char *arg, struct dig_opts *o)
{
	const char *opt = arg + 1, *eq = strchr(opt, '=');
	size_t n = eq ? (size_t)(eq - opt) : strlen(opt);
	bool no = !strncmp(opt, "no", 2);
	const char *base = no ? opt + 2 : opt;
	size_t bn = no ? n - 2 : n;
	uint64_t v;

#define IS(word) (bn == strlen(word) && !strncmp(base, word, bn))
	if (IS("short"))
		o->shortout = !no;
	else if (IS("tcp") || IS("vc"))
		o->tcp = !no, o->tcp_set = true;
	else if (IS("search") || IS("showsearch"))
		o->search = !no;
	else if (IS("recurse"))
		o->recurse = !no;
	else if (IS("edns"))
		o->edns = !no;
	else if (IS("ignore"))
		o->ignore_tc = !no;
	else if (IS("cmd") || IS("comments") || IS("stats"))
		;	/* accepted for muscle memory; output is always bind's default */
	else if (!no && (IS("timeout") || IS("time"))) {
		if (!eq || parse_u64(eq + 1, 1, 300, &v))
			usage_error("'%s' needs seconds, 1-300: +timeout=2", arg);
		o->timeout_s = (int)v;
	} else if (!no && (IS("tries") || IS("retry"))) {
		bool retry = IS("retry");
		if (!eq || parse_u64(eq + 1, retry ? 0 : 1, 20, &v))
			usage_error("'%s' needs a number: +tries=N (1-20) or +retry=N (0-19)", arg);
		o->tries = (int)v + (retry ? 1 : 0);
	} else {
		usage_error("unknown query option '%s'", arg);
	}
#undef IS
}

static int server_list(const struct dig_opts *o, struct resolv_conf *rc, char names[][IPADDR_STRLEN + 256])
{
	char err[300];
	int n = 0;

	if (o->server) {
		struct ipaddr a;
		if (resolv_lookup(rc, o->server, o->family, &a, err, sizeof(err)))
			die(EXIT_FAIL, "cannot use server '%s': %s", o->server, err);
		ipaddr_to_sockaddr(&a, 0, &rc->ns[0]);
		snprintf(names[0], IPADDR_STRLEN + 256, "%s", o->server);
		rc->nns = 1;
		n = 1;
	} else {
		for (int i = 0; i < rc->nns; i++) {
			if (o->family && rc->ns[i].ss_family != o->family)
				continue;
			rc->ns[n] = rc->ns[i];
			n++;
		}
		rc->nns = n;
		if (!n)
			die(EXIT_FAIL, "no IPv%c nameserver in %s", o->family == AF_INET ? '4' : '6', resolv_conf_path());
	}
	for (int i = 0; i < n; i++) {
		struct ipaddr a;
		sockaddr_to_ipaddr((struct sockaddr *)&rc->ns[i], &a, NULL);
		ipaddr_to_sockaddr(&a, o->port ? o->port : 53, &rc->ns[i]);
		if (!o->server)
			ipaddr_format(&a, names[i], IPADDR_STRLEN);
	}
	return n;
}

/* "127.0.0.1#53" as bind prints a server. */
static void server_text(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[IPADDR_STRLEN];
	struct ipaddr a;
	uint16_t port;

	sockaddr_to_ipaddr(sa, &a, &port);
	snprintf(out, len, "%s#%u", ipaddr_format(&a, ip, sizeof(ip)), port);
}

/* One name against the servers in order; 0 with r/m filled, or -1 (reported). */
static int ask(const struct resolv_conf *rc, char names[][IPADDR_STRLEN + 256], const struct dig_opts *o,
	       const char *qname, struct dns_reply *r, struct dns_msg *m, int *which)
{
	struct dns_xfer x = { .timeout_ms = o->timeout_s * 1000, .tries = o->tries, .tcp = o->tcp,
			      .no_tcp_retry = o->ignore_tc };
	char err[400], srv[SOCKADDR_STRLEN + 8], tn[16];

	for (int i = 0; i < rc->nns; i++) {
		struct dns_query q = { .id = dns_random_id(), .name = qname, .type = (uint16_t)o->type,
				       .qclass = DNS_CLASS_IN, .recurse = o->recurse,
				       .edns_udp = o->edns ? DNS_EDNS_UDP : 0 };
		const struct sockaddr *sa = (const struct sockaddr *)&rc->ns[i];

		server_text(sa, srv, sizeof(srv));
		if (!dns_exchange(sa, &q, &x, r, m, err, sizeof(err))) {
			*which = i;
			return 0;
		}
		warnx("%s %s: no usable answer from %s (%s): %s", qname, dns_type_name(q.type, tn), srv, names[i], err);
	}
	if (rc->nns > 1)
		warnx("no servers could be reached");
	return -1;
}

/* The command line as typed (getopt permutes argv, so it is copied first). */
static void print_cmdline(int argc, char **argv, bool one_server)
{
	fputs("\n; <<>> retina dig <<>>", stdout);
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	putchar('\n');
	if (one_server)
		puts("; (1 server found)");
	puts(";; global options: +cmd");
}

/* The flags (getopt permutes argv: dig_main keeps the line as typed). */
static void parse_flags(int argc, char **argv, struct dig_opts *o)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int c;
	uint64_t v;

	while ((c = next_opt(argc, argv, "p:t:x:q:c:46h", longopts)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u64(optarg, 1, 65535, &v))
				usage_error("port '%s' is not 1-65535", optarg);
			o->port = (uint16_t)v;
			break;
		case 't':
			o->type = dns_type_parse(optarg);
			if (o->type < 0)
				usage_error("unknown type '%s' (A AAAA CNAME MX NS PTR SOA SRV TXT CAA ANY or TYPEnnn)",
					    optarg);
			break;
		case 'x': {
			struct ipaddr a;
			if (ipaddr_parse(optarg, &a))
				usage_error("-x needs an IPv4 or IPv6 address, not '%s'", optarg);
			dns_reverse_name(a.family, a.b, o->rev, sizeof(o->rev));
			o->name = o->rev;
			o->reverse = true;
			break;
		}
		case 'q':
			o->name = optarg;
			break;
		case 'c':
			if (strcasecmp(optarg, "IN"))
				usage_error("only class IN is supported, not '%s'", optarg);
			break;
		case '4':
			o->family = AF_INET;
			break;
		case '6':
			o->family = AF_INET6;
			break;
		case 'h':
			show_help(dig_help);
		}
	}
}

/* @server, +options, TYPE and NAME after the flags; then the defaults they leave. */
static void parse_words(int argc, char **argv, struct dig_opts *o)
{
	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		int t;
		if (a[0] == '@' && a[1])
			o->server = a + 1;
		else if (a[0] == '+')
			plus_option(a, o);
		else if (!strcasecmp(a, "IN"))
			;
		else if (o->type < 0 && (t = dns_type_parse(a)) >= 0 && (o->name || !strcmp(a, "ANY") || i + 1 < argc))
			o->type = t;
		else if (!o->name)
			o->name = a;
		else
			usage_error("unexpected argument '%s' (one name per query)", a);
	}
	if (o->type < 0)
		o->type = o->reverse ? DNS_T_PTR : o->name ? DNS_T_A : DNS_T_NS;
	if (!o->name)
		o->name = ".";
	/* bind9's dig asks ANY over TCP unless told +notcp: the answer is rarely small. */
	if (o->type == DNS_T_ANY && !o->tcp_set)
		o->tcp = true;

	uint8_t wire[DNS_NAME_WIRE_MAX + 1];
	if (dns_name_to_wire(o->name, wire, sizeof(wire)) < 0)
		usage_error("'%s' is not a valid DNS name (labels of 1-63 bytes, 255 bytes in all)", o->name);
}

/* +search: how resolv.conf's ndots orders the names to try. */
static void print_search_plan(const struct dig_opts *o, const struct resolv_conf *rc)
{
	int dots = 0;
	size_t nl = strlen(o->name);

	for (const char *p = o->name; *p; p++)
		dots += *p == '.';
	printf(";; search: %s has %d dot%s; ndots:%d, %d search domain%s (%s): ", o->name, dots,
	       dots == 1 ? "" : "s", rc->ndots, rc->nsearch, rc->nsearch == 1 ? "" : "s", resolv_conf_path());
	if (nl && o->name[nl - 1] == '.')
		puts("absolute name, no search");
	else
		puts(dots >= rc->ndots ? "the name as given first" : "search domains first, the name as given last");
}

/*
 * Ask each name to try in turn; the answer kept is the first name with
 * records, else the last name answered. false when no name was answered.
 */
static bool resolve(const struct resolv_conf *rc, char names[][IPADDR_STRLEN + 256], const struct dig_opts *o,
		    char tries[][DNS_NAME_TEXT], int ntries, struct dns_reply *r, struct dns_msg *m, int *which)
{
	struct dns_reply cur;
	struct dns_msg cur_m;
	int cur_which;
	bool have = false;
	char tn[16];

	for (int i = 0; i < ntries; i++) {
		int got = ask(rc, names, o, tries[i], &cur, &cur_m, &cur_which);
		if (o->search && !o->shortout) {
			if (got)
				printf(";; trying %s: no answer\n", tries[i]);
			else
				printf(";; trying %s: %s, %u answer%s\n", tries[i], dns_rcode_name(cur_m.rcode, tn),
				       cur_m.count[DNS_S_ANSWER], cur_m.count[DNS_S_ANSWER] == 1 ? "" : "s");
		}
		if (got)
			continue;
		if (have)
			dns_reply_free(r);
		*r = cur;
		*m = cur_m;
		*which = cur_which;
		have = true;
		/* As libc: the first name with records ends the search. */
		if (m->rcode == DNS_R_NOERROR && m->count[DNS_S_ANSWER])
			break;
	}
	return have;
}

int dig_main(int argc, char **argv)
{
	struct dig_opts o = { .type = -1, .recurse = true, .edns = true };
	struct resolv_conf rc;
	char err[300];

	char **typed = calloc((size_t)argc + 1, sizeof(*typed));
	if (!typed)
		die(EXIT_FAIL, "out of memory");
	memcpy(typed, argv, (size_t)argc * sizeof(*typed));
	parse_flags(argc, argv, &o);
	parse_words(argc, argv, &o);

	if (resolv_conf_load(NULL, &rc, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	/* +timeout/+tries win; then resolv.conf's options; then bind9's 5 s and 3 tries. */
	if (!o.timeout_s)
		o.timeout_s = rc.timeout_set ? rc.timeout_s : 5;
	if (!o.tries)
		o.tries = rc.attempts_set ? rc.attempts : 3;
	char names[RESOLV_MAXNS][IPADDR_STRLEN + 256];
	/* The search list is computed from resolv.conf before @server replaces its servers. */
	char tries[RESOLV_MAXSEARCH + 1][DNS_NAME_TEXT];
	int ntries = 1;
	if (o.search)
		ntries = resolv_search_names(&rc, o.name, tries, (int)ARRAY_SIZE(tries));
	else
		snprintf(tries[0], sizeof(tries[0]), "%s", o.name);
	server_list(&o, &rc, names);

	if (!o.shortout)
		print_cmdline(argc, typed, o.server != NULL);
	if (o.search && !o.shortout)
		print_search_plan(&o, &rc);

	struct dns_reply r = { 0 };
	struct dns_msg m;
	int which = 0;
	if (!resolve(&rc, names, &o, tries, ntries, &r, &m, &which))
		return EXIT_FAIL;

	if (o.shortout) {
		struct dns_iter it;
		struct dns_rr rr;
		dns_iter_init(&it, &m, DNS_S_ANSWER);
		while (dns_iter_next(&it, &rr))
			print_rr(&m, &rr, true);
	} else {
		char srv[SOCKADDR_STRLEN + 8];
		server_text((const struct sockaddr *)&rc.ns[which], srv, sizeof(srv));
		print_full(&m, &r, &o, srv, names[which]);
	}
	dns_reply_free(&r);
	free(typed);
	return EXIT_OK;
}
