/*
 * retina trace --nft: which nftables rule dropped a packet. This kernel has
 * no kprobes, so the rule comes from nftables tracing: a table of ours
 * (retina_nftrace) sets nftrace on every packet of this network namespace,
 * the kernel reports the rules each packet meets on NFNLGRP_NFTRACE (what
 * `nft monitor trace` reads), and a rule's drop verdict is matched to the
 * DROP event by the packet's headers. Plain netlink, no libnftnl/libmnl.
 */
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/trace/trace_io.h"
#include "lib/retina.h"
#include "lib/sys.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static struct nft_mon *cleanup_mon;

/* Send a batch and wait for its acks: 0, or the first error (a positive errno). */
static int transact(struct nft_mon *m, const uint8_t *msg, size_t len, int acks)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t buf[8192];

	if (sendto(m->fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)len)
		return errno;
	while (acks > 0) {
		ssize_t n = recv(m->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? ETIMEDOUT : errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return EPROTO;
			const struct nlmsgerr *err = NLMSG_DATA(h);
			if (err->error) {
				int first = -err->error;	/* buf is read over below */
				/*
				 * A failed batch answers every message at once (acks, then
				 * ENOENT for what followed): read them all, or a retry
				 * would take them for its own.
				 */
				while (recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
					;
				return first;
			}
			acks--;
		}
	}
	return 0;
}

static void remove_table(struct nft_mon *m)
{
	uint8_t msg[256];
	size_t n;

	if (!m->table_added)
		return;
	m->table_added = false;
	n = nft_build_deltable(msg, sizeof(msg), m->seq);
	m->seq += 3;
	int err = transact(m, msg, n, 1);
	/* owned tables also go with the socket: ENOENT only means that happened */
	if (err && err != ENOENT)
		warnx("could not remove nftables table inet %s (%s): remove it with 'nft delete table inet %s'",
		      NFT_TRACE_TABLE, strerror(err), NFT_TRACE_TABLE);
}

static void at_exit(void)
{
	if (cleanup_mon) {
		remove_table(cleanup_mon);
		cleanup_mon = NULL;
	}
}

void nft_start(struct nft_mon *m)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };
	struct stat st;
	uint8_t msg[2048];
	int err, size = 8 << 20, group = NFNLGRP_NFTRACE;

	memset(m, 0, sizeof(*m));
	m->seq = time(NULL);
	if (!stat("/proc/self/ns/net", &st))
		m->netns = st.st_ino;
	m->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (m->fd < 0 || bind(m->fd, (struct sockaddr *)&local, sizeof(local)))
		die(EXIT_FAIL, "--nft: cannot open a netfilter netlink socket: %s", strerror(errno));
	setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* a drop storm makes a message per rule per packet: a big buffer, and losses counted */
	if (setsockopt(m->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

	m->owner = true;
	size_t n = nft_build_setup(msg, sizeof(msg), m->seq, true);
	err = transact(m, msg, n, 5);
	if (err == EOPNOTSUPP || err == EINVAL) {
		/* before 5.12 there are no owned tables: removed on every exit retina sees */
		m->owner = false;
		m->seq += 16;
		n = nft_build_setup(msg, sizeof(msg), m->seq, false);
		err = transact(m, msg, n, 5);
	}
	m->seq += 16;
	if (err == EEXIST)
		die(EXIT_FAIL, "--nft: the nftables table inet %s exists already: another 'retina trace --nft' runs in "
			       "this network namespace, or one was left behind (remove it with 'nft delete table inet %s')",
		    NFT_TRACE_TABLE, NFT_TRACE_TABLE);
	if (err == EPERM)
		die(EXIT_FAIL, "--nft: adding the nftables tracing table needs the NET_ADMIN capability "
			       "(kubectl retina shell --capabilities NET_ADMIN,BPF,PERFMON NODE)");
	if (err == ENOENT || err == EAFNOSUPPORT || err == EPROTONOSUPPORT)
		die(EXIT_FAIL, "--nft: this kernel has no nftables (nf_tables: %s): netfilter drops cannot be "
			       "attributed to a rule", strerror(err));
	if (err)
		die(EXIT_FAIL, "--nft: cannot add the nftables tracing table: %s", strerror(err));
	m->table_added = true;
	cleanup_mon = m;
	atexit(at_exit);
	m->qfd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	tv.tv_sec = 1;
	if (m->qfd >= 0 && (bind(m->qfd, (struct sockaddr *)&local, sizeof(local)) ||
			    setsockopt(m->qfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))) {
		close(m->qfd);
		m->qfd = -1;	/* handles of tables and chains stay unknown; rules are still named */
	}
	if (setsockopt(m->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)))
		die(EXIT_FAIL, "--nft: cannot listen to nftables trace messages: %s", strerror(errno));
	warnx("--nft: added nftables table inet %s (chains at priority %d on prerouting and output set nftrace "
	      "on every packet of this network namespace); it goes when retina ends%s", NFT_TRACE_TABLE,
	      NFT_TRACE_PRIORITY, m->owner ? ", even if killed" : "; if ever left behind: nft delete table inet "
	      NFT_TRACE_TABLE);
}

static void on_trace(void *ctx, const struct nft_trace *t)
{
	struct nft_mon *m = ctx;

	m->messages++;
	/* only a packet's first message in a chain has its headers: later ones share its id */
	struct nft_packet *pk = &m->packets[t->id % NFT_PACKETS];
	if (t->has_pkt) {
		pk->id = t->id;
		pk->valid = true;
		pk->family = t->family;
		pk->proto = t->proto;
		memcpy(pk->saddr, t->saddr, 16);
		memcpy(pk->daddr, t->daddr, 16);
		pk->sport = t->sport;
		pk->dport = t->dport;
	}
	if (!nft_trace_is_drop(t))
		return;
	struct nft_recent *r = &m->recent[m->next % NFT_RECENT];
	r->t = *t;
	if (!t->has_pkt) {
		if (!pk->valid || pk->id != t->id)
			return;	/* its headers were never seen (lost with an overrun) */
		r->t.has_pkt = true;
		r->t.family = pk->family;
		r->t.proto = pk->proto;
		memcpy(r->t.saddr, pk->saddr, 16);
		memcpy(r->t.daddr, pk->daddr, 16);
		r->t.sport = pk->sport;
		r->t.dport = pk->dport;
	}
	m->next++;
	r->at_ns = now_ns(CLOCK_MONOTONIC);
	r->used = false;
}

void nft_drain(struct nft_mon *m)
{
	static uint8_t buf[65536];

	for (;;) {
		ssize_t n = recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS) {
				m->overruns++;	/* the kernel dropped messages: some drops stay unnamed */
				continue;
			}
			return;
		}
		if (n == 0)
			return;
		nft_parse_datagram(buf, n, on_trace, m);
	}
}

/* The handle of a table or chain, asked of the kernel on a socket of its own; 0 when unknown. */
static uint64_t query_handle(struct nft_mon *m, bool chain, uint8_t nfproto, const char *table, const char *name)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t msg[512], buf[8192];
	uint64_t handle = 0;
	uint32_t seq = m->seq++;
	size_t n = nft_build_get(msg, sizeof(msg), seq, chain, nfproto, table, name);

	if (m->qfd < 0 || !n || sendto(m->qfd, msg, n, 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)n)
		return 0;
	for (int tries = 0; tries < 8; tries++) {
		ssize_t got = recv(m->qfd, buf, sizeof(buf), 0);
		if (got <= 0)
			return 0;	/* the 1 s timeout: unknown, the rule is still named */
		int r = nft_parse_handle(buf, got, seq, &handle);
		if (r)
			return r > 0 ? handle : 0;
	}
	return 0;
}

/* The table's and chain's handles of t, from the cache or the kernel (a chain may be gone: 0). */
static void add_handles(struct nft_mon *m, struct nft_trace *t)
{
	struct nft_names *nm = NULL;

	for (size_t i = 0; i < m->nnames; i++)
		if (m->names[i].nfproto == t->nfproto && !strcmp(m->names[i].table, t->table) &&
		    !strcmp(m->names[i].chain, t->chain))
			nm = &m->names[i];
	if (!nm) {
		if (m->nnames == ARRAY_SIZE(m->names))
			m->nnames = 0;	/* full: start over */
		nm = &m->names[m->nnames++];
		nm->nfproto = t->nfproto;
		memcpy(nm->table, t->table, sizeof(nm->table));	/* both NUL-terminated, same size */
		memcpy(nm->chain, t->chain, sizeof(nm->chain));
		nm->table_handle = query_handle(m, false, t->nfproto, t->table, NULL);
		nm->chain_handle = query_handle(m, true, t->nfproto, t->table, t->chain);
	}
	t->table_handle = nm->table_handle;
	t->chain_handle = nm->chain_handle;
}

const struct nft_trace *nft_lookup(struct nft_mon *m, const struct trace_event *e)
{
	for (int pass = 0; pass < 2; pass++) {
		/* the oldest unused match within 2 s: a retransmitted SYN is a second drop, in order */
		size_t first = m->next > NFT_RECENT ? m->next - NFT_RECENT : 0;
		for (size_t i = first; i < m->next; i++) {
			struct nft_recent *r = &m->recent[i % NFT_RECENT];
			int64_t dt = (int64_t)(r->at_ns - e->ts_ns);
			if (r->used || dt < -2000000000LL || dt > 2000000000LL || !nft_trace_matches(&r->t, e))
				continue;
			r->used = true;
			m->named++;
			add_handles(m, &r->t);
			return &r->t;
		}
		/* the message was queued before the drop: read what has come */
		if (!pass)
			nft_drain(m);
	}
	m->unnamed++;
	return NULL;
}

void nft_stop(struct nft_mon *m)
{
	remove_table(m);
	cleanup_mon = NULL;
	if (m->fd >= 0)
		close(m->fd);
	if (m->qfd >= 0)
		close(m->qfd);
	m->fd = m->qfd = -1;
}
