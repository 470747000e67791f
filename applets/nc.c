/*
 * nc: TCP/UDP connect checks, a stdin/stdout client and a one-connection
 * listener. Messages use ncat's wording ("Connected to 10.0.0.1:443.",
 * "Connection refused.", "TIMEOUT.") after the usual "retina nc: " prefix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/retina.h"
#include "lib/sys.h"
#include "net/addr.h"
#include "net/resolv.h"

const char nc_help[] =
	"usage: retina nc [-4|-6] [-u] [-v] [-z] [-w SECONDS] HOST PORT\n"
	"       retina nc -l [-4|-6] [-u] [-v] [-w SECONDS] [-p] PORT [ADDR]\n"
	"\n"
	"Connect to HOST PORT and copy stdin to it and its answers to stdout, or\n"
	"with -z only check that a connection can be made. With -l, wait for one\n"
	"connection (or the first UDP datagram) on PORT and do the same with it.\n"
	"Messages use ncat's wording: \"Connected to 10.0.0.1:443.\",\n"
	"\"Connection refused.\", \"TIMEOUT.\".\n"
	"\n"
	"  -z             connect check only: send nothing (UDP: one empty datagram)\n"
	"  -v             say what happens (connected, listening, connection from)\n"
	"  -w SECONDS     connect timeout (TCP), how long to wait for an ICMP refusal\n"
	"                 (UDP -z, default 1) or for answers after stdin ends (UDP),\n"
	"                 how long to wait for a connection (-l)\n"
	"  -u             UDP instead of TCP\n"
	"  -l             listen for one connection; -p PORT names the port\n"
	"  -4, -6         IPv4 / IPv6 only\n"
	"\n"
	"UDP has no handshake: -u -z reports \"Connection refused.\" only when an ICMP\n"
	"port unreachable comes back within -w; silence counts as connected (open or\n"
	"filtered), as in netcat.\n"
	"\n"
	"Exit status: 0 connected (and the copy ended cleanly), 1 refused, timed out\n"
	"or failed, 2 on bad usage.\n"
	"\n"
	"Examples:\n"
	"  retina nc -zv 10.96.0.1 443               can this pod reach the API server?\n"
	"  retina nc -zvu -w 2 10.96.0.10 53         is anything refusing UDP 53?\n"
	"  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | retina nc 10.244.1.7 8080\n"
	"  retina nc -lv -p 9000                     see what arrives on port 9000\n";

struct nc_opts {
	int family;
	bool udp, verbose, zero, listen;
	uint64_t wait_ms;
	bool wait_set;
};

/* A peer as users expect it: an IPv4 client of a dual-stack socket without ::ffff:. */
static const char *peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct sockaddr_storage copy = *ss;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		struct ipaddr a = { .family = AF_INET6 };
		memcpy(a.b, &in6->sin6_addr, 16);
		ipaddr_unmap(&a);
		if (a.family == AF_INET)
			ipaddr_to_sockaddr(&a, ntohs(in6->sin6_port), &copy);
	}
	return sockaddr_format((struct sockaddr *)&copy, buf, len);
}

static uint16_t parse_port(const char *s)
{
	uint64_t v;

	if (parse_u64(s, 1, 65535, &v))
		usage_error("'%s' is not a port number (1-65535)", s);
	return (uint16_t)v;
}

/* ncat's wording for a failed connection: "Connection refused.", "TIMEOUT." */
static _Noreturn void conn_failed(int err)
{
	if (err == ETIMEDOUT)
		die(EXIT_FAIL, "TIMEOUT.");
	die(EXIT_FAIL, "%s.", strerror(err));
}

/*
 * Copy stdin to sock and sock to stdout until the peer closes (TCP) or,
 * for UDP, until stdin has ended and nothing arrived for linger_ms.
 */
static int relay(int sock, bool udp, uint64_t linger_ms)
{
	uint8_t buf[65536];
	bool in_open = true;
	uint64_t quiet_since = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
		int timeout = -1;

		if (!in_open && udp) {
			uint64_t now = (uint64_t)mono_ms();
			if (now >= quiet_since + linger_ms)
				return EXIT_OK;
			timeout = (int)(quiet_since + linger_ms - now);
		}
		int n = poll(p, in_open ? 2 : 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_FAIL, "poll: %s", strerror(errno));
		}
		if (p[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t r = recv(sock, buf, sizeof(buf), 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				conn_failed(errno);
			if (r == 0 && !udp)
				return EXIT_OK;
			if (write_all(STDOUT_FILENO, buf, (size_t)r))
				die(EXIT_FAIL, "writing stdout: %s", strerror(errno));
			quiet_since = (uint64_t)mono_ms();
		}
		if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				in_open = false;
				quiet_since = (uint64_t)mono_ms();
				if (!udp)
					shutdown(sock, SHUT_WR);	/* the peer sees EOF, its answer still comes */
				continue;
			}
			if (udp ? send(sock, buf, (size_t)r, 0) != r : write_all(sock, buf, (size_t)r))
				conn_failed(errno);
		}
	}
}

static int connect_timeout(int fd, const struct sockaddr_storage *ss, uint64_t ms)
{
	int flags = fcntl(fd, F_GETFL), err = 0;
	socklen_t el = sizeof(err);

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, (const struct sockaddr *)ss, sockaddr_len((const struct sockaddr *)ss))) {
		if (errno != EINPROGRESS)
			return errno;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n;
		do
			n = poll(&p, 1, ms ? (int)ms : -1);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return ETIMEDOUT;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			return err;
	}
	fcntl(fd, F_SETFL, flags);
	return 0;
}

static int client(const struct nc_opts *o, const char *host, uint16_t port)
{
	struct resolv_conf rc;
	struct ipaddr a;
	struct sockaddr_storage ss;
	char err[400], where[SOCKADDR_STRLEN];

	if (resolv_conf_load(NULL, &rc, err, sizeof(err)) || resolv_lookup(&rc, host, o->family, &a, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	ipaddr_unmap(&a);
	ipaddr_to_sockaddr(&a, port, &ss);
	sockaddr_format((struct sockaddr *)&ss, where, sizeof(where));

	int fd = socket(a.family, (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(EXIT_FAIL, "socket: %s", strerror(errno));
	int e = connect_timeout(fd, &ss, o->udp ? 0 : o->wait_ms);
	if (e)
		conn_failed(e);
	if (o->udp && o->zero) {
		/* No handshake: send an empty datagram and wait for an ICMP port unreachable. */
		uint8_t b[1];
		send(fd, b, 0, 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(o->wait_set ? o->wait_ms : 1000)) > 0 && recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0 &&
		    errno == ECONNREFUSED)
			conn_failed(ECONNREFUSED);
	}
	if (o->verbose)
		warnx("Connected to %s.", where);
	if (o->zero) {
		close(fd);
		return EXIT_OK;
	}
	int rcode = relay(fd, o->udp, o->wait_set ? o->wait_ms : 1000);
	close(fd);
	return rcode;
}

static int listener(const struct nc_opts *o, const char *addr, uint16_t port)
{
	struct ipaddr a = { .family = o->family == AF_INET ? AF_INET : AF_INET6 };	/* :: serves both */
	struct sockaddr_storage ss, peer;
	socklen_t pl = sizeof(peer);
	char where[SOCKADDR_STRLEN];
	int on = 1, off = 0;

	if (addr && ipaddr_parse(addr, &a))
		usage_error("listen address '%s' is not an IPv4 or IPv6 address", addr);
	if (addr && o->family && a.family != o->family)
		usage_error("listen address '%s' is not IPv%c", addr, o->family == AF_INET ? '4' : '6');
	ipaddr_to_sockaddr(&a, port, &ss);
	int fd = socket(a.family, (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(EXIT_FAIL, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (a.family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->family == AF_INET6 ? &on : &off, sizeof(on));
	sockaddr_format((struct sockaddr *)&ss, where, sizeof(where));
	if (bind(fd, (struct sockaddr *)&ss, sockaddr_len((struct sockaddr *)&ss)))
		die(EXIT_FAIL, "cannot listen on %s: %s%s", where, strerror(errno),
		    errno == EADDRINUSE ? " (see `ss -lntup` for who has it)" : "");
	if (!o->udp && listen(fd, 1))
		die(EXIT_FAIL, "listen: %s", strerror(errno));
	if (o->verbose)
		warnx("Listening on %s", where);

	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;
	do
		n = poll(&p, 1, o->wait_set ? (int)o->wait_ms : -1);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		die(EXIT_FAIL, "TIMEOUT.");
	int conn;
	if (o->udp) {
		/* The first datagram's sender becomes the peer. */
		uint8_t buf[65536];
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
		if (r < 0 || connect(fd, (struct sockaddr *)&peer, pl))
			die(EXIT_FAIL, "UDP receive: %s", strerror(errno));
		if (o->verbose)
			warnx("Connection from %s.", peer_text(&peer, where, sizeof(where)));
		if (write_all(STDOUT_FILENO, buf, (size_t)r))
			die(EXIT_FAIL, "writing stdout: %s", strerror(errno));
		conn = fd;
	} else {
		conn = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (conn < 0)
			die(EXIT_FAIL, "accept: %s", strerror(errno));
		close(fd);
		if (o->verbose)
			warnx("Connection from %s.", peer_text(&peer, where, sizeof(where)));
	}
	int rcode = relay(conn, o->udp, o->wait_set ? o->wait_ms : 1000);
	close(conn);
	return rcode;
}

int nc_main(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct nc_opts o = { 0 };
	const char *port_opt = NULL;
	int c;

	signal(SIGPIPE, SIG_IGN);
	while ((c = next_opt(argc, argv, "46uvzlp:w:h", longopts)) != -1) {
		switch (c) {
		case '4': o.family = AF_INET; break;
		case '6': o.family = AF_INET6; break;
		case 'u': o.udp = true; break;
		case 'v': o.verbose = true; break;
		case 'z': o.zero = true; break;
		case 'l': o.listen = true; break;
		case 'p': port_opt = optarg; break;
		case 'w':
			if (parse_duration_ms(optarg, &o.wait_ms) || !o.wait_ms || o.wait_ms > 86400000)
				usage_error("-w needs a timeout like 2 or 500ms (at most 24h), not '%s'", optarg);
			o.wait_set = true;
			break;
		case 'h': show_help(nc_help);
		}
	}
	int rest = argc - optind;
	char **args = argv + optind;
	if (o.listen) {
		if (o.zero)
			usage_error("-z and -l do not go together");
		/* nc -l -p PORT [ADDR] | nc -l [ADDR] PORT | nc -l PORT */
		if (port_opt && rest <= 1)
			return listener(&o, rest ? args[0] : NULL, parse_port(port_opt));
		if (!port_opt && rest == 1)
			return listener(&o, NULL, parse_port(args[0]));
		if (!port_opt && rest == 2)
			return listener(&o, args[0], parse_port(args[1]));
		usage_error("listen mode needs a PORT: retina nc -l -p PORT [ADDR]");
	}
	if (rest != 2)
		usage_error("needs HOST and PORT: retina nc [-zv] HOST PORT");
	return client(&o, args[0], parse_port(args[1]));
}
