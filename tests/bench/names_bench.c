/*
 * The cost of naming in kubectl retina bpftrace: CPU per event of the
 * plugin's line handling (bt_handle_line, all the plugin does per event)
 * with the address -> name map of 10,000 dual-stack pods, 2,000 services
 * and 100 nodes, against none; JSON and table; and the map's size.
 * The lines are the ones `make bench`'s storm makes the tracer send (UDP
 * into an iptables DROP), their source a pod and their destination a
 * service, so both lookups hit: "storm", one flow as in trace_bench.py
 * (one sender, one port), and "spread", each line another of the 10,000
 * pods and 2,000 services (the map's memory latency on every lookup: the
 * worst case). Built -O2 without sanitizers (Makefile).
 *
 * usage: names_bench [EVENTS]
 */
#define _GNU_SOURCE	/* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "kube/names.h"

#define T0 1704067200LL

static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static struct kube_names *big(void)
{
	struct kube_names *m = kube_names_new();
	char buf[1024];

	for (int i = 0; i < 10000; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"frontend-7d9f8b6c5d-%05d\",\"namespace\":\"team-%02d\","
			 "\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{},\"status\":{\"phase\":\"Running\","
			 "\"podIPs\":[{\"ip\":\"10.%d.%d.%d\"},{\"ip\":\"fd00:10::%x\"}]}}",
			 i, i % 50, 244 + i / 65536, i / 256 % 256, i % 256, i + 1);
		cJSON *o = cJSON_Parse(buf);
		kube_names_apply(m, KN_POD, "ADDED", o, T0 * 1000000000LL);
		cJSON_Delete(o);
	}
	for (int i = 0; i < 2000; i++) {
		snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"service-%04d\",\"namespace\":\"team-%02d\"},"
			 "\"spec\":{\"clusterIPs\":[\"10.96.%d.%d\",\"fd00:96::%x\"]}}", i, i % 50, i / 256, i % 256, i + 1);
		cJSON *o = cJSON_Parse(buf);
		kube_names_apply(m, KN_SVC, "ADDED", o, T0 * 1000000000LL);
		cJSON_Delete(o);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"aks-nodepool1-%08d-vmss%06d\"},\"status\":{"
			 "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.224.0.%d\"}]}}", i, i, i + 4);
		cJSON *o = cJSON_Parse(buf);
		kube_names_apply(m, KN_NODE, "ADDED", o, T0 * 1000000000LL);
		cJSON_Delete(o);
	}
	return m;
}

/* ns per event of n lines through bt_handle_line */
static double run(const struct bt_render *r, char **lines, int nl, long n, FILE *out)
{
	struct bt_stream s = { .node = "node-1" };
	double t = cpu_s();

	for (long i = 0; i < n; i++)
		bt_handle_line(&s, r, lines[i % nl], out, out);
	return (cpu_s() - t) * 1e9 / n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	FILE *null = fopen("/dev/null", "w");
	struct kube_names *m = big();
	enum { NL = 1024 };
	char *lines[NL];

	if (!null || !m || n <= 0)
		return 1;
	for (int spread = 0; spread < 2; spread++) {
	for (int i = 0; i < NL; i++) {
		int p = spread ? i * 9 % 10000 : 17, sv = spread ? i * 7 % 2000 : 3;
		if (asprintf(&lines[i], "{\"time\":%d.5,\"ts\":\"2024-01-01T00:%02d:%02d.123456789Z\",\"type\":\"DROP\","
			     "\"reason_code\":6,\"reason\":\"NETFILTER_DROP\",\"probe\":\"kfree_skb\",\"proto\":\"udp\","
			     "\"src_ip\":\"10.%d.%d.%d\",\"src_port\":%d,\"dst_ip\":\"10.96.%d.%d\",\"dst_port\":7011,"
			     "\"netns\":4026532500,\"ifname\":\"eth0\",\"comm\":\"udpflood\",\"pid\":4242}",
			     i, 1 + i / 60 % 60, i % 60, 244 + p / 65536, p / 256 % 256, p % 256, 30000 + i, sv / 256,
			     sv % 256) < 0)
			return 1;
	}
	if (!spread) {
		size_t open, closed;
		kube_names_counts(m, &open, &closed);
		printf("names map: 10000 pods + 2000 services (IPv4+IPv6) + 100 nodes: %zu intervals, %.2f MB "
		       "(target: under 4 MB)\n", open, kube_names_bytes(m) / 1048576.0);
	}
	for (int json = 1; json >= 0; json--) {
		struct bt_render plain = { .json = json }, named = { .json = json, .names = m };
		run(&plain, lines, NL, n / 10, null);	/* warm */
		double a = 1e30, b = 1e30;
		for (int k = 0; k < 3; k++) {	/* best of 3: the machine is shared */
			double x = run(&plain, lines, NL, n, null), y = run(&named, lines, NL, n, null);
			a = x < a ? x : a;
			b = y < b ? y : b;
		}
		printf("plugin CPU per event, %-6s -o %-5s  without names %6.0f ns, with names %6.0f ns: %.2fx%s\n",
		       spread ? "spread" : "storm", json ? "json" : "table", a, b, b / a,
		       spread ? "" : " (target: under 1.3x)");
	}
	for (int i = 0; i < NL; i++)
		free(lines[i]);
	}
	kube_names_free(m);
	fclose(null);
	return 0;
}
