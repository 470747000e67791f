/*
 * ping: ICMP/ICMPv6 echo with iputils' output and exit status. A raw socket
 * when CAP_NET_RAW allows, else the unprivileged ICMP datagram socket
 * (net.ipv4.ping_group_range); net/icmp.c parses what comes back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/retina.h"
#include "lib/sys.h"
#include "net/addr.h"
#include "net/icmp.h"
#include "net/resolv.h"

const char ping_help[] =
	"usage: retina ping [-4|-6] [-c COUNT] [-i SECONDS] [-W SECONDS] [-w DEADLINE] [-s SIZE]\n"
	"                   [-t TTL] [-I IFACE|ADDR] [-n] [-q] HOST\n"
	"\n"
	"Send ICMP echo requests to HOST and print the replies and the statistics\n"
	"exactly as iputils ping does. Uses a raw socket with CAP_NET_RAW, else the\n"
	"unprivileged ICMP socket (allowed by net.ipv4.ping_group_range). HOST names\n"
	"are resolved with /etc/hosts and resolv.conf (the same resolver as dig).\n"
	"\n"
	"  -c COUNT       stop after COUNT replies/errors (default: until Ctrl-C)\n"
	"  -i SECONDS     interval between requests (default 1; fractions allowed)\n"
	"  -W SECONDS     wait this long for replies after the last request (default 10)\n"
	"  -w DEADLINE    stop after DEADLINE seconds, whatever was sent or received\n"
	"  -s SIZE        payload bytes (default 56: 64-byte ICMP messages)\n"
	"  -t TTL         IP time to live / IPv6 hop limit\n"
	"  -I IFACE|ADDR  send from this interface or source address\n"
	"  -n             numeric output: never print the host name\n"
	"  -q             quiet: only the first line and the statistics\n"
	"  -4, -6         IPv4 / IPv6 only\n"
	"\n"
	"Exit status: 0 when a reply arrived, 1 when none did (or fewer than COUNT\n"
	"before the -w deadline), 2 on errors.\n"
	"\n"
	"Examples:\n"
	"  retina ping -c 3 10.244.1.7\n"
	"  retina ping -c 5 -i 0.2 -W 1 kube-dns.kube-system.svc.cluster.local\n"
	"  retina ping -6 -c 2 -I eth0 fd00::1\n";

struct ping {
	int family, fd;
	bool raw, quiet, numeric;
	uint16_t ident;
	const char *host;
	char ip[IPADDR_STRLEN];
	struct sockaddr_storage dst;
	size_t datalen;
	uint64_t count, interval_us, linger_us, deadline_us;
	/* statistics */
	uint64_t sent, received, dups, errors;
	uint64_t tmin, tmax, tsum, tsum2;	/* microseconds */
	int pipesize;				/* most requests outstanding at a reply */
	uint8_t seen[65536 / 8];		/* sequence numbers answered, for DUP! */
};

/* As iputils: payloads of at least a struct timeval (16 bytes) carry the send time. */
enum { TIMED_PAYLOAD = 16 };

/* Seconds with fractions ("0.2", "1.5", "10") to microseconds. */
static int parse_seconds(const char *s, uint64_t *us)
{
	char *end;
	double v = strtod(s, &end);

	if (!*s || *end || !(v >= 0) || v > 86400 * 30)
		return -1;
	*us = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

static _Noreturn void no_socket(int raw_err, int dgram_err)
{
	char range[64] = "unreadable";
	FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "re");

	if (f) {
		if (fgets(range, sizeof(range), f))
			for (char *c = range; *c; c++)
				*c = *c == '\t' ? ' ' : *c == '\n' ? '\0' : *c;
		fclose(f);
	}
	die(EXIT_USAGE,
	    "cannot open an ICMP socket: a raw socket needs CAP_NET_RAW (%s), and gid %u is not in "
	    "net.ipv4.ping_group_range = %s (%s); grant NET_RAW: kubectl retina shell --capabilities NET_RAW, "
	    "or allow ICMP sockets in this network namespace: sysctl -w net.ipv4.ping_group_range='0 2147483647'",
	    strerror(raw_err), (unsigned)getegid(), range, strerror(dgram_err));
}

static void open_socket(struct ping *p)
{
	int proto = p->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int raw_err, on = 1;

	p->fd = socket(p->family, SOCK_RAW | SOCK_CLOEXEC, proto);
	p->raw = p->fd >= 0;
	if (!p->raw) {
		raw_err = errno;
		p->fd = socket(p->family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
		if (p->fd < 0)
			no_socket(raw_err, errno);
	}
	if (p->family == AF_INET) {
		if (!p->raw) {
			setsockopt(p->fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
			setsockopt(p->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
		}
	} else {
		setsockopt(p->fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
		if (p->raw) {
			struct icmp6_filter f;
			ICMP6_FILTER_SETBLOCKALL(&f);
			ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
			ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
			ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &f);
			ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
			ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
			setsockopt(p->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
		} else {
			setsockopt(p->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
		}
	}
}

static void set_source(struct ping *p, const char *src)
{
	struct ipaddr a;

	if (!ipaddr_parse(src, &a)) {
		struct sockaddr_storage ss;
		if (a.family != p->family)
			die(EXIT_USAGE, "-I %s is not an IPv%c address like the target %s", src,
			    p->family == AF_INET ? '4' : '6', p->ip);
		if (bind(p->fd, (struct sockaddr *)&ss, ipaddr_to_sockaddr(&a, 0, &ss)))
			die(EXIT_USAGE, "cannot send from %s: %s (is it an address of this host?)", src, strerror(errno));
		return;
	}
	if (!if_nametoindex(src))
		die(EXIT_USAGE, "-I %s: no such interface or address (see `ip -br addr`)", src);
	if (setsockopt(p->fd, SOL_SOCKET, SO_BINDTODEVICE, src, (socklen_t)strlen(src) + 1))
		die(EXIT_USAGE, "cannot bind to interface %s: %s%s", src, strerror(errno),
		    errno == EPERM ? " (needs CAP_NET_RAW: kubectl retina shell --capabilities NET_RAW)" : "");
}

static void send_one(struct ping *p)
{
	uint8_t payload[65536], pkt[65536 + 8];
	uint16_t seq = (uint16_t)(p->sent + 1);
	uint64_t t = (uint64_t)mono_us();

	/* The send time travels in the payload, as iputils does: replies carry their own RTT. */
	for (size_t i = 0; i < p->datalen; i++)
		payload[i] = (uint8_t)i;
	if (p->datalen >= TIMED_PAYLOAD)
		memcpy(payload, &t, sizeof(t));
	size_t n = icmp_echo_build(p->family, p->ident, seq, payload, p->datalen, pkt, sizeof(pkt));
	socklen_t sl = sockaddr_len((struct sockaddr *)&p->dst);
	p->seen[seq / 8] &= (uint8_t)~(1 << (seq % 8));
	p->sent++;
	/* A failed send counts as an error, as in iputils, and the next one is tried. */
	if (sendto(p->fd, pkt, n, 0, (struct sockaddr *)&p->dst, sl) < 0) {
		p->errors++;
		printf("ping: sendmsg: %s\n", strerror(errno));
	}
}

static void print_time(uint64_t us)
{
	if (us >= 100000)
		printf(" time=%llu ms", (unsigned long long)(us / 1000));
	else if (us >= 10000)
		printf(" time=%llu.%01llu ms", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000 / 100));
	else if (us >= 1000)
		printf(" time=%llu.%02llu ms", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000 / 10));
	else
		printf(" time=%llu.%03llu ms", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
}

/* "192.0.2.2" or "name (192.0.2.2)" when the target was a name and the reply is from it. */
static void print_from(const struct ping *p, const char *from)
{
	if (!p->numeric && strcmp(p->host, p->ip) && !strcmp(from, p->ip))
		printf("%s (%s)", p->host, from);
	else
		fputs(from, stdout);
}

/* iputils' "pipe N": how far behind the newest request a reply or error came. */
static void acknowledge(struct ping *p, uint16_t seq)
{
	uint16_t behind = (uint16_t)((uint16_t)p->sent - seq);

	if (behind <= 0x7fff && (int)behind + 1 > p->pipesize)
		p->pipesize = (int)behind + 1;
}

static void on_reply(struct ping *p, const struct icmp_pkt *k, const char *from, int ttl, uint64_t now)
{
	uint16_t seq = k->seq;
	bool dup = p->seen[seq / 8] & (1 << (seq % 8));
	bool timed = k->data_len >= TIMED_PAYLOAD && p->datalen >= TIMED_PAYLOAD;
	uint64_t rtt = 0;

	if (timed) {
		uint64_t sent_at;
		memcpy(&sent_at, k->data, sizeof(sent_at));
		rtt = now > sent_at ? now - sent_at : 0;
		p->tsum += rtt;
		p->tsum2 += rtt * rtt;
		if (!p->received && !p->dups)
			p->tmin = rtt;
		if (rtt < p->tmin)
			p->tmin = rtt;
		if (rtt > p->tmax)
			p->tmax = rtt;
	}
	acknowledge(p, seq);
	if (dup) {
		p->dups++;
	} else {
		p->received++;
		p->seen[seq / 8] |= (uint8_t)(1 << (seq % 8));
	}
	if (p->quiet)
		return;
	printf("%zu bytes from ", k->icmp_len);
	print_from(p, from);
	printf(": icmp_seq=%u", seq);
	if (ttl >= 0)
		printf(" ttl=%d", ttl);
	if (timed)
		print_time(rtt);
	if (dup)
		fputs(" (DUP!)", stdout);
	putchar('\n');
	fflush(stdout);
}

static void on_error(struct ping *p, const char *from, uint16_t seq, const char *what)
{
	p->errors++;
	acknowledge(p, seq);
	if (p->quiet)
		return;
	fputs("From ", stdout);
	print_from(p, from);
	printf(" icmp_seq=%u %s\n", seq, what);
	fflush(stdout);
}

static int cmsg_ttl(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		int v;
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	}
	return -1;
}

/* Datagram sockets deliver ICMP errors on the error queue (IP_RECVERR). */
static void read_errqueue(struct ping *p)
{
	uint8_t buf[65536], ctl[512];
	struct sockaddr_storage from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(p->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);

	if (n < 0)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		struct sock_extended_err ee;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		/* The queued packet is our request: its ICMP header names the sequence. */
		uint16_t seq = n >= 8 ? (uint16_t)(buf[6] << 8 | buf[7]) : 0;
		char what[96], ip[IPADDR_STRLEN] = "?";
		/* The offender's address follows the extended error in the same cmsg. */
		struct sockaddr_storage off_ss = { 0 };
		size_t have = c->cmsg_len > CMSG_LEN(sizeof(ee)) ? c->cmsg_len - CMSG_LEN(sizeof(ee)) : 0;
		memcpy(&off_ss, CMSG_DATA(c) + sizeof(ee), have < sizeof(off_ss) ? have : sizeof(off_ss));
		const struct sockaddr *off = (const struct sockaddr *)&off_ss;
		if (off->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)off)->sin_addr, ip, sizeof(ip));
		else if (off->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)off)->sin6_addr, ip, sizeof(ip));
		if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
			on_error(p, ip, seq, icmp_error_text(p->family, ee.ee_type, ee.ee_code, ee.ee_info, what,
							     sizeof(what)));
		} else if (ee.ee_errno == EMSGSIZE) {
			p->errors++;
			printf("ping: local error: message too long, mtu=%u\n", ee.ee_info);
		} else {
			p->errors++;
			printf("ping: local error: %s\n", strerror((int)ee.ee_errno));
		}
	}
}

static void read_one(struct ping *p)
{
	uint8_t buf[65536 + 60], ctl[512];
	struct sockaddr_storage from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
	uint64_t now = (uint64_t)mono_us();
	struct icmp_pkt k;
	char ip[IPADDR_STRLEN], what[96];

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR && !p->raw)
			read_errqueue(p);
		return;
	}
	if (icmp_parse(p->family, p->raw && p->family == AF_INET, buf, (size_t)n, p->raw, p->ident, &k))
		return;	/* malformed: not something we sent */
	struct ipaddr fa;
	sockaddr_to_ipaddr((struct sockaddr *)&from, &fa, NULL);
	ipaddr_format(&fa, ip, sizeof(ip));
	int ttl = k.ttl >= 0 ? k.ttl : cmsg_ttl(&msg);
	if (k.kind == ICMP_K_ECHO_REPLY) {
		on_reply(p, &k, ip, ttl, now);
	} else if (k.kind == ICMP_K_ERROR) {
		on_error(p, ip, k.seq, icmp_error_text(p->family, k.type, k.code, k.info, what, sizeof(what)));
	}
}

static void summary(const struct ping *p, uint64_t elapsed_us)
{
	printf("\n--- %s ping statistics ---\n", p->host);
	printf("%llu packets transmitted, %llu received", (unsigned long long)p->sent,
	       (unsigned long long)p->received);
	if (p->dups)
		printf(", +%llu duplicates", (unsigned long long)p->dups);
	if (p->errors)
		printf(", +%llu errors", (unsigned long long)p->errors);
	if (p->sent)
		printf(", %g%% packet loss", (float)((double)(p->sent - p->received) * 100.0 / (double)p->sent));
	printf(", time %llums\n", (unsigned long long)((elapsed_us + 500) / 1000));
	uint64_t n = p->received + p->dups;
	const char *comma = "";
	if (n && p->datalen >= TIMED_PAYLOAD) {
		uint64_t avg = p->tsum / n;
		double var = (double)p->tsum2 / (double)n - (double)avg * (double)avg;
		uint64_t mdev = var > 0 ? (uint64_t)sqrt(var) : 0;
		printf("rtt min/avg/max/mdev = %llu.%03llu/%llu.%03llu/%llu.%03llu/%llu.%03llu ms",
		       (unsigned long long)(p->tmin / 1000), (unsigned long long)(p->tmin % 1000),
		       (unsigned long long)(avg / 1000), (unsigned long long)(avg % 1000),
		       (unsigned long long)(p->tmax / 1000), (unsigned long long)(p->tmax % 1000),
		       (unsigned long long)(mdev / 1000), (unsigned long long)(mdev % 1000));
		comma = ", ";
	}
	if (p->pipesize > 1)
		printf("%spipe %d", comma, p->pipesize);
	putchar('\n');	/* iputils ends with this newline even after no rtt line */
}

/* The flags and HOST into p; -t and -I into *ttl and *src (set once the socket is open). */
static void parse_args(int argc, char **argv, struct ping *p, int *ttl, const char **src)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int c;
	uint64_t v;

	p->interval_us = 1000000;
	p->linger_us = 10000000;
	p->datalen = 56;
	while ((c = next_opt(argc, argv, "46c:i:W:w:s:t:I:nqh", longopts)) != -1) {
		switch (c) {
		case '4': p->family = AF_INET; break;
		case '6': p->family = AF_INET6; break;
		case 'c':
			if (parse_u64(optarg, 1, UINT32_MAX, &p->count))
				usage_error("-c needs a count of 1 or more, not '%s'", optarg);
			break;
		case 'i':
			if (parse_seconds(optarg, &p->interval_us) || p->interval_us < 2000)
				usage_error("-i needs seconds of 0.002 or more, not '%s'", optarg);
			break;
		case 'W':
			if (parse_seconds(optarg, &p->linger_us))
				usage_error("-W needs seconds, not '%s'", optarg);
			break;
		case 'w':
			if (parse_seconds(optarg, &p->deadline_us) || !p->deadline_us)
				usage_error("-w needs seconds, more than 0, not '%s'", optarg);
			break;
		case 's':
			if (parse_u64(optarg, 0, 65507, &v))
				usage_error("-s needs a payload size of 0-65507 bytes, not '%s'", optarg);
			p->datalen = (size_t)v;
			break;
		case 't':
			if (parse_u64(optarg, 1, 255, &v))
				usage_error("-t needs a TTL of 1-255, not '%s'", optarg);
			*ttl = (int)v;
			break;
		case 'I': *src = optarg; break;
		case 'n': p->numeric = true; break;
		case 'q': p->quiet = true; break;
		case 'h': show_help(ping_help);
		}
	}
	if (optind != argc - 1)
		usage_error(optind == argc ? "needs a HOST to ping" : "one HOST only, '%s' is extra", argv[argc - 1]);
	p->host = argv[optind];
}

/* HOST to p->dst (the shared resolver), then the socket with its TTL and source. */
static void configure(struct ping *p, int ttl, const char *src)
{
	struct resolv_conf rc;
	struct ipaddr a;
	char err[400];

	if (resolv_conf_load(NULL, &rc, err, sizeof(err)))
		die(EXIT_USAGE, "%s", err);
	if (resolv_lookup(&rc, p->host, p->family, &a, err, sizeof(err)))
		die(EXIT_USAGE, "%s", err);
	ipaddr_unmap(&a);
	p->family = a.family;
	ipaddr_format(&a, p->ip, sizeof(p->ip));
	ipaddr_to_sockaddr(&a, 0, &p->dst);

	open_socket(p);
	uint16_t rid;
	p->ident = (uint16_t)(getrandom(&rid, sizeof(rid), 0) == sizeof(rid) ? rid : getpid());
	if (ttl >= 0) {
		int r = p->family == AF_INET ? setsockopt(p->fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl))
					     : setsockopt(p->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
		if (r)
			die(EXIT_USAGE, "cannot set TTL %d: %s", ttl, strerror(errno));
	}
	if (src)
		set_source(p, src);
}

/*
 * Send every interval and read what comes until -c, -w, the final wait or a
 * stop signal. Returns the microseconds from the first request to the last
 * request or answer ("time Nms", as in iputils: not through the final wait).
 */
static uint64_t loop(struct ping *p)
{
	uint64_t start = (uint64_t)mono_us(), next_send = start, last_send = start, last_event = start;

	for (;;) {
		uint64_t now = (uint64_t)mono_us();
		if (stop_signal)
			break;
		if (p->deadline_us && now >= start + p->deadline_us)
			break;
		if (p->count && p->received + p->errors >= p->count)
			break;
		bool more = !p->count || p->sent < p->count || (p->deadline_us && p->received < p->count);
		if (more && now >= next_send) {
			send_one(p);
			last_send = last_event = now;
			next_send += p->interval_us;
			if (next_send < now)
				next_send = now + p->interval_us;
			continue;
		}
		uint64_t wake = more ? next_send : 0;
		if (!more) {
			/* All sent: wait for late replies (iputils: 2 RTTs but at least an interval once any came, else -W). */
			uint64_t linger = p->received ? (2 * p->tmax > p->interval_us ? 2 * p->tmax : p->interval_us)
						      : p->linger_us;
			if (now >= last_send + linger)
				break;
			wake = last_send + linger;
		}
		if (p->deadline_us && start + p->deadline_us < wake)
			wake = start + p->deadline_us;
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		uint64_t wait_ms = wake > now ? (wake - now + 999) / 1000 : 0;
		int timeout = wait_ms > INT_MAX ? INT_MAX : (int)wait_ms;
		int r = poll(&pfd, 1, timeout);
		if (r < 0 && errno != EINTR)
			die(EXIT_USAGE, "poll: %s", strerror(errno));
		if (r > 0) {
			if (pfd.revents & POLLERR)
				read_errqueue(p);
			if (pfd.revents & POLLIN)
				read_one(p);
			last_event = (uint64_t)mono_us();
		}
	}
	return last_event - start;
}

int ping_main(int argc, char **argv)
{
	static struct ping p;
	const char *src = NULL;
	int ttl = -1;

	parse_args(argc, argv, &p, &ttl, &src);
	configure(&p, ttl, src);

	/*
	 * SA_RESTART: a reply line blocked on a slow stdout must be written
	 * whole (musl's stdio drops its buffer on EINTR); poll() still returns
	 * at once. SA_RESETHAND: a second Ctrl-C quits even if stdout is stuck.
	 */
	catch_stop_signals(SA_RESTART | SA_RESETHAND, false);

	if (p.family == AF_INET)
		printf("PING %s (%s) %zu(%zu) bytes of data.\n", p.host, p.ip, p.datalen, p.datalen + 28);
	else
		printf("PING %s(%s) %zu data bytes\n", p.host, p.ip, p.datalen);
	fflush(stdout);

	summary(&p, loop(&p));
	if (!p.received)
		return EXIT_FAIL;
	if (p.deadline_us && p.count && p.received < p.count)
		return EXIT_FAIL;
	return EXIT_OK;
}
