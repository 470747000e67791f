/*
 * kube/names.c: addresses of pods, services and nodes to their names, by
 * the event's time (reuse of an address), what counts as an address of
 * each, relists, pruning, and the size for 10,000 pods + 2,000 services.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/names.h"

#define S 1000000000LL
#define T0 1704067200LL	/* 2024-01-01T00:00:00Z */

static cJSON *obj(const char *json)
{
	cJSON *o = cJSON_Parse(json);

	assert_non_null(o);
	return o;
}

static void apply(struct kube_names *m, enum kn_kind kind, const char *type, const char *json, int64_t now)
{
	cJSON *o = obj(json);

	assert_int_equal(kube_names_apply(m, kind, type, o, now), 0);
	cJSON_Delete(o);
}

/* A pod created at T0+created s with these podIPs (JSON array body). */
static char *pod(const char *ns, const char *name, int created, const char *ips, const char *extra)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"creationTimestamp\":\"2024-01-01T00:%02d:%02dZ\"},"
		 "\"spec\":{%s},\"status\":{\"phase\":\"Running\",\"podIPs\":[%s]}}",
		 name, ns, created / 60, created % 60, extra ? extra : "", ips);
	return buf;
}

static void expect(const struct kube_names *m, const char *addr, int64_t ts, const char *name, enum kn_kind kind)
{
	enum kn_kind k = KN_KINDS;
	const char *got = kube_names_lookup(m, addr, ts, &k);

	if (!name) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, name);
	assert_int_equal(k, kind);
}

static void pod_ips_both_families_and_host_network_is_its_node(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();

	apply(m, KN_POD, "ADDED", pod("shop", "web-1", 0, "{\"ip\":\"10.244.1.17\"},{\"ip\":\"fd00:10:244::17\"}", NULL),
	      T0 * S);
	apply(m, KN_POD, "ADDED", pod("kube-system", "proxy", 0, "{\"ip\":\"10.0.0.11\"}", "\"hostNetwork\":true"),
	      T0 * S);
	apply(m, KN_NODE, "ADDED",
	      "{\"metadata\":{\"name\":\"node-1\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
	      "\"10.0.0.11\"},{\"type\":\"ExternalIP\",\"address\":\"203.0.113.5\"},{\"type\":\"Hostname\","
	      "\"address\":\"node-1\"}]}}", T0 * S);
	expect(m, "10.244.1.17", (T0 + 5) * S, "shop/web-1", KN_POD);
	expect(m, "fd00:10:244::17", (T0 + 5) * S, "shop/web-1", KN_POD);
	expect(m, "fd00:10:244:0::17", (T0 + 5) * S, "shop/web-1", KN_POD);	/* any spelling */
	expect(m, "10.0.0.11", (T0 + 5) * S, "node-1", KN_NODE);	/* not the hostNetwork pod */
	expect(m, "203.0.113.5", (T0 + 5) * S, "node-1", KN_NODE);
	expect(m, "node-1", (T0 + 5) * S, NULL, 0);	/* a Hostname is no address */
	expect(m, "10.244.1.18", (T0 + 5) * S, NULL, 0);
	expect(m, "10.244.1.17", (T0 - 5) * S, NULL, 0);	/* before it was created */
	uint8_t b4[4] = { 10, 244, 1, 17 };
	assert_string_equal(kube_names_lookup_bin(m, b4, 4, (T0 + 5) * S, NULL), "shop/web-1");
	assert_null(kube_names_lookup_bin(m, b4, 3, (T0 + 5) * S, NULL));
	kube_names_free(m);
}

static void service_cluster_external_and_lb_ips(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();

	apply(m, KN_SVC, "ADDED",
	      "{\"metadata\":{\"name\":\"api\",\"namespace\":\"shop\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
	      "\"spec\":{\"clusterIP\":\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\",\"fd00:96::10\"],"
	      "\"externalIPs\":[\"198.51.100.7\"]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.9\"},"
	      "{\"hostname\":\"lb.example.com\"}]}}}", T0 * S);
	apply(m, KN_SVC, "ADDED",
	      "{\"metadata\":{\"name\":\"headless\",\"namespace\":\"shop\"},\"spec\":{\"clusterIP\":\"None\","
	      "\"clusterIPs\":[\"None\"]}}", T0 * S);
	for (const char *const *a = (const char *const[]){ "10.96.0.10", "fd00:96::10", "198.51.100.7", "192.0.2.9",
							    NULL }; *a; a++)
		expect(m, *a, (T0 + 1) * S, "shop/api", KN_SVC);
	size_t open, closed;
	kube_names_counts(m, &open, &closed);
	assert_int_equal(open, 4);	/* headless: nothing; the clusterIP once */
	assert_int_equal(closed, 0);
	kube_names_free(m);
}

/* Deleted, then a new pod with the same address: each event maps to the pod of its time. */
static void reused_address_maps_by_time(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();

	apply(m, KN_POD, "ADDED", pod("shop", "old", 0, "{\"ip\":\"10.244.1.17\"}", NULL), T0 * S);
	apply(m, KN_POD, "DELETED", pod("shop", "old", 0, "{\"ip\":\"10.244.1.17\"}", NULL), (T0 + 10) * S);
	apply(m, KN_POD, "ADDED", pod("shop", "new", 12, "{\"ip\":\"10.244.1.17\"}", NULL), (T0 + 12) * S);
	expect(m, "10.244.1.17", (T0 + 9) * S, "shop/old", KN_POD);
	expect(m, "10.244.1.17", (T0 + 11) * S, NULL, 0);	/* nobody's in between */
	expect(m, "10.244.1.17", (T0 + 13) * S, "shop/new", KN_POD);
	/* the same name again, a new pod (a StatefulSet's): its own interval */
	apply(m, KN_POD, "DELETED", pod("shop", "new", 12, "{\"ip\":\"10.244.1.17\"}", NULL), (T0 + 20) * S);
	apply(m, KN_POD, "ADDED", pod("shop", "new", 25, "{\"ip\":\"10.244.1.99\"}", NULL), (T0 + 25) * S);
	expect(m, "10.244.1.17", (T0 + 19) * S, "shop/new", KN_POD);
	expect(m, "10.244.1.17", (T0 + 26) * S, NULL, 0);
	expect(m, "10.244.1.99", (T0 + 26) * S, "shop/new", KN_POD);
	kube_names_free(m);
}

/*
 * The new pod was created (pending) while the old one still had the
 * address; it got the address once the old one was gone: the old one holds
 * it until its end, not the newcomer since its creation.
 */
static void overlap_goes_to_the_holder_that_ended(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();

	apply(m, KN_POD, "ADDED", pod("shop", "old", 0, "{\"ip\":\"10.244.1.17\"}", NULL), T0 * S);
	apply(m, KN_POD, "ADDED", pod("shop", "new", 5, "", NULL), (T0 + 5) * S);	/* pending: no IP */
	apply(m, KN_POD, "DELETED", pod("shop", "old", 0, "{\"ip\":\"10.244.1.17\"}", NULL), (T0 + 12) * S);
	apply(m, KN_POD, "MODIFIED", pod("shop", "new", 5, "{\"ip\":\"10.244.1.17\"}", NULL), (T0 + 13) * S);
	expect(m, "10.244.1.17", (T0 + 8) * S, "shop/old", KN_POD);
	expect(m, "10.244.1.17", (T0 + 14) * S, "shop/new", KN_POD);
	kube_names_free(m);
}

static void modified_moves_addresses_and_an_ended_pod_gives_its_back(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();
	size_t open, closed;

	apply(m, KN_POD, "ADDED", pod("a", "p", 0, "{\"ip\":\"10.1.0.1\"}", NULL), T0 * S);
	apply(m, KN_POD, "MODIFIED", pod("a", "p", 0, "{\"ip\":\"10.1.0.1\"}", NULL), (T0 + 1) * S);
	kube_names_counts(m, &open, &closed);
	assert_int_equal(open, 1);	/* the same address again: one interval */
	assert_int_equal(closed, 0);
	apply(m, KN_POD, "MODIFIED", pod("a", "p", 0, "{\"ip\":\"10.1.0.2\"}", NULL), (T0 + 5) * S);
	expect(m, "10.1.0.1", (T0 + 4) * S, "a/p", KN_POD);
	expect(m, "10.1.0.1", (T0 + 6) * S, NULL, 0);
	expect(m, "10.1.0.2", (T0 + 6) * S, "a/p", KN_POD);
	cJSON *o = obj(pod("a", "p", 0, "{\"ip\":\"10.1.0.2\"}", NULL));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(o, "status"), "phase", cJSON_CreateString("Succeeded"));
	assert_int_equal(kube_names_apply(m, KN_POD, "MODIFIED", o, (T0 + 8) * S), 0);
	cJSON_Delete(o);
	expect(m, "10.1.0.2", (T0 + 7) * S, "a/p", KN_POD);
	expect(m, "10.1.0.2", (T0 + 9) * S, NULL, 0);
	/* what is no object of these: refused; a bookmark: nothing */
	o = obj("{\"metadata\":{\"namespace\":\"a\"}}");
	assert_int_equal(kube_names_apply(m, KN_POD, "ADDED", o, T0 * S), -1);
	assert_int_equal(kube_names_apply(m, KN_POD, "BOOKMARK", o, T0 * S), 0);
	cJSON_Delete(o);
	expect(m, "not-an-address", (T0 + 9) * S, NULL, 0);
	/* names go into JSON and onto terminals: only what the API server allows in them */
	o = obj("{\"metadata\":{\"name\":\"a\\\"b\",\"namespace\":\"a\"},\"status\":{\"podIP\":\"10.1.0.9\"}}");
	assert_int_equal(kube_names_apply(m, KN_POD, "ADDED", o, T0 * S), -1);
	cJSON_Delete(o);
	expect(m, "10.1.0.9", (T0 + 9) * S, NULL, 0);
	kube_names_free(m);
}

/*
 * Two namespaces' lists of pods interleaved (a watch per namespace): each
 * end closes only its own namespace's objects that its list did not hold.
 */
static void relists_of_two_namespaces_interleave(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();

	apply(m, KN_POD, "ADDED", pod("a", "stays", 0, "{\"ip\":\"10.1.0.1\"}", NULL), T0 * S);
	apply(m, KN_POD, "ADDED", pod("a", "goes", 0, "{\"ip\":\"10.1.0.2\"}", NULL), T0 * S);
	apply(m, KN_POD, "ADDED", pod("ab", "other", 0, "{\"ip\":\"10.1.0.4\"}", NULL), T0 * S);
	uint32_t ga = kube_names_relist_begin_gen(m, KN_POD);
	apply(m, KN_POD, "ADDED", pod("a", "stays", 0, "{\"ip\":\"10.1.0.1\"}", NULL), (T0 + 30) * S);
	uint32_t gb = kube_names_relist_begin_gen(m, KN_POD);
	apply(m, KN_POD, "ADDED", pod("b", "new", 0, "{\"ip\":\"10.1.0.3\"}", NULL), (T0 + 30) * S);
	kube_names_relist_end_in(m, KN_POD, ga, "a", (T0 + 30) * S);	/* a/stays: applied before b began */
	kube_names_relist_end_in(m, KN_POD, gb, "b", (T0 + 30) * S);
	expect(m, "10.1.0.1", (T0 + 40) * S, "a/stays", KN_POD);
	expect(m, "10.1.0.2", (T0 + 40) * S, NULL, 0);
	expect(m, "10.1.0.3", (T0 + 40) * S, "b/new", KN_POD);
	expect(m, "10.1.0.4", (T0 + 40) * S, "ab/other", KN_POD);	/* "ab" is not namespace "a" */
	kube_names_free(m);
}

/* A relist (after 410 Gone) that no longer holds an object: it ended, at the relist. */
static void relist_closes_what_is_gone(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();

	apply(m, KN_POD, "ADDED", pod("a", "stays", 0, "{\"ip\":\"10.1.0.1\"}", NULL), T0 * S);
	apply(m, KN_POD, "ADDED", pod("a", "goes", 0, "{\"ip\":\"10.1.0.2\"}", NULL), T0 * S);
	apply(m, KN_SVC, "ADDED", "{\"metadata\":{\"name\":\"s\",\"namespace\":\"a\"},\"spec\":{\"clusterIP\":"
	      "\"10.96.0.1\"}}", T0 * S);
	kube_names_relist_begin(m, KN_POD);
	apply(m, KN_POD, "ADDED", pod("a", "stays", 0, "{\"ip\":\"10.1.0.1\"}", NULL), (T0 + 30) * S);
	kube_names_relist_end(m, KN_POD, (T0 + 30) * S);
	expect(m, "10.1.0.1", (T0 + 40) * S, "a/stays", KN_POD);
	expect(m, "10.1.0.2", (T0 + 29) * S, "a/goes", KN_POD);
	expect(m, "10.1.0.2", (T0 + 40) * S, NULL, 0);
	expect(m, "10.96.0.1", (T0 + 40) * S, "a/s", KN_SVC);	/* another kind: untouched */
	kube_names_free(m);
}

static void prune_forgets_only_what_ended_before(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();
	size_t open, closed;

	for (int i = 0; i < 300; i++) {
		char name[32], ip[64];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(ip, sizeof(ip), "{\"ip\":\"10.1.%d.%d\"}", i / 200, i % 200 + 1);
		apply(m, KN_POD, "ADDED", pod("a", name, 0, ip, NULL), T0 * S);
		if (i % 2)
			apply(m, KN_POD, "DELETED", pod("a", name, 0, ip, NULL), (T0 + 10 + i % 4) * S);
	}
	assert_int_equal(kube_names_prune(m, (T0 + 12) * S), 0);
	kube_names_counts(m, &open, &closed);
	assert_int_equal(open, 150);
	assert_int_equal(closed, 75);	/* those that ended at +13 s */
	expect(m, "10.1.0.2", (T0 + 5) * S, NULL, 0);	/* p1 ended at +11: forgotten */
	expect(m, "10.1.0.1", (T0 + 5) * S, "a/p0", KN_POD);
	expect(m, "10.1.0.4", (T0 + 5) * S, "a/p3", KN_POD);	/* ended at +13: kept */
	expect(m, "10.1.1.99", (T0 + 50) * S, "a/p298", KN_POD);
	/* what survived a prune goes on as before */
	apply(m, KN_POD, "DELETED", pod("a", "p298", 0, "{\"ip\":\"10.1.1.99\"}", NULL), (T0 + 60) * S);
	expect(m, "10.1.1.99", (T0 + 59) * S, "a/p298", KN_POD);
	expect(m, "10.1.1.99", (T0 + 61) * S, NULL, 0);
	kube_names_free(m);
}

/* The benchmark's size target, held as a test: 10,000 dual-stack pods, 2,000 services, 100 nodes. */
static void size_of_a_big_cluster(void **state)
{
	(void)state;
	struct kube_names *m = kube_names_new();
	char buf[1024];

	for (int i = 0; i < 10000; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"frontend-7d9f8b6c5d-%05d\",\"namespace\":\"team-%02d\","
			 "\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{},\"status\":{\"phase\":\"Running\","
			 "\"podIPs\":[{\"ip\":\"10.%d.%d.%d\"},{\"ip\":\"fd00:10::%x\"}]}}",
			 i, i % 50, 244 + i / 65536, i / 256 % 256, i % 256, i + 1);
		apply(m, KN_POD, "ADDED", buf, T0 * S);
	}
	for (int i = 0; i < 2000; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"service-%04d\",\"namespace\":\"team-%02d\"},\"spec\":{"
			 "\"clusterIPs\":[\"10.96.%d.%d\",\"fd00:96::%x\"]}}", i, i % 50, i / 256, i % 256, i + 1);
		apply(m, KN_SVC, "ADDED", buf, T0 * S);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"aks-nodepool1-%08d-vmss%06d\"},\"status\":{"
			 "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.224.0.%d\"}]}}", i, i, i + 4);
		apply(m, KN_NODE, "ADDED", buf, T0 * S);
	}
	size_t bytes = kube_names_bytes(m), open, closed;
	kube_names_counts(m, &open, &closed);
	printf("kube_names: 10000 pods (IPv4+IPv6), 2000 services (IPv4+IPv6), 100 nodes: %zu intervals, "
	       "%zu bytes (%.2f MB)\n", open, bytes, bytes / 1048576.0);
	assert_int_equal(open, 24100);
	assert_true(bytes < 4u << 20);
	expect(m, "10.244.39.15", (T0 + 1) * S, "team-49/frontend-7d9f8b6c5d-09999", KN_POD);
	expect(m, "fd00:96::7d0", (T0 + 1) * S, "team-49/service-1999", KN_SVC);
	expect(m, "10.224.0.103", (T0 + 1) * S, "aks-nodepool1-00000099-vmss000099", KN_NODE);
	kube_names_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pod_ips_both_families_and_host_network_is_its_node),
		cmocka_unit_test(service_cluster_external_and_lb_ips),
		cmocka_unit_test(reused_address_maps_by_time),
		cmocka_unit_test(overlap_goes_to_the_holder_that_ended),
		cmocka_unit_test(modified_moves_addresses_and_an_ended_pod_gives_its_back),
		cmocka_unit_test(relist_closes_what_is_gone),
		cmocka_unit_test(relists_of_two_namespaces_interleave),
		cmocka_unit_test(prune_forgets_only_what_ended_before),
		cmocka_unit_test(size_of_a_big_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
