/*
 * kubectl retina bpftrace's naming of events (kubectl_names_rules.c through
 * bt_handle_line): src_pod/dst_svc/... in JSON lines, "(pod ns/name)" beside
 * the table's addresses, by the event's own time; a pod's own such keys go.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "kube/names.h"

#define S 1000000000LL
#define T0 1704067200LL	/* 2024-01-01T00:00:00Z */

/* 10.1.0.2 was shop/old until +10 s, then shop/new from +12 s; 10.96.0.10 is the service shop/api. */
static struct kube_names *cluster(void)
{
	struct kube_names *m = kube_names_new();
	const char *objs[][3] = {
		{ "pods", "ADDED", "{\"metadata\":{\"name\":\"old\",\"namespace\":\"shop\",\"creationTimestamp\":"
				   "\"2024-01-01T00:00:00Z\"},\"status\":{\"podIPs\":[{\"ip\":\"10.1.0.2\"}]}}" },
		{ "pods", "DELETED", "{\"metadata\":{\"name\":\"old\",\"namespace\":\"shop\"}}" },
		{ "pods", "ADDED", "{\"metadata\":{\"name\":\"new\",\"namespace\":\"shop\",\"creationTimestamp\":"
				   "\"2024-01-01T00:00:12Z\"},\"status\":{\"podIPs\":[{\"ip\":\"10.1.0.2\"}]}}" },
		{ "services", "ADDED", "{\"metadata\":{\"name\":\"api\",\"namespace\":\"shop\"},\"spec\":{\"clusterIP\":"
				       "\"10.96.0.10\"}}" },
	};
	int64_t at[] = { T0 * S, (T0 + 10) * S, (T0 + 12) * S, T0 * S };

	for (size_t i = 0; i < 4; i++) {
		cJSON *o = cJSON_Parse(objs[i][2]);
		assert_int_equal(kube_names_apply(m, kube_names_kind(objs[i][0]), objs[i][1], o, at[i]), 0);
		cJSON_Delete(o);
	}
	return m;
}

static char *handle(const struct bt_render *r, const char *line)
{
	char *out = NULL, *err = NULL;
	size_t olen, elen;
	FILE *o = open_memstream(&out, &olen), *e = open_memstream(&err, &elen);
	struct bt_stream s = { .node = "node-1" };

	assert_int_equal(bt_handle_line(&s, r, line, o, e), BT_EVENT);
	fclose(o);
	fclose(e);
	assert_string_equal(err, "");
	free(err);
	return out;
}

#define EV(ts, extra) "{\"ts\":\"2024-01-01T00:00:" ts ".5Z\",\"type\":\"DROP\",\"reason\":\"NO_SOCKET\"," \
		      "\"probe\":\"kfree_skb\",\"proto\":\"tcp\",\"src_ip\":\"10.1.0.2\",\"src_port\":40000," \
		      "\"dst_ip\":\"10.96.0.10\",\"dst_port\":443" extra "}"

static void json_gains_the_names_of_the_events_time(void **state)
{
	(void)state;
	struct kube_names *m = cluster();
	struct bt_render r = { .json = true, .names = m };
	char *out;

	out = handle(&r, EV("05", ""));
	assert_string_equal(out, EV("05", ",\"src_pod\":\"shop/old\",\"dst_svc\":\"shop/api\",\"node\":\"node-1\"") "\n");
	free(out);
	out = handle(&r, EV("13", ""));
	assert_non_null(strstr(out, ",\"src_pod\":\"shop/new\",\"dst_svc\":\"shop/api\",\"node\":\"node-1\"}"));
	free(out);
	out = handle(&r, EV("11", ""));	/* nobody held 10.1.0.2 then */
	assert_non_null(strstr(out, "\"dst_port\":443,\"dst_svc\":\"shop/api\",\"node\":\"node-1\"}"));
	free(out);
	/* a pod's own src_pod is not ours: it goes, ours stays */
	out = handle(&r, EV("05", ",\"src_pod\":\"fake/x\""));
	cJSON *o = cJSON_Parse(out);
	assert_string_equal(cJSON_GetObjectItem(o, "src_pod")->valuestring, "shop/old");
	assert_int_equal(cJSON_GetArraySize(o), 12);	/* 9 of the line, 2 names, node */
	cJSON_Delete(o);
	free(out);
	/* no map: the line as before */
	r.names = NULL;
	out = handle(&r, EV("05", ""));
	assert_string_equal(out, EV("05", ",\"node\":\"node-1\"") "\n");
	free(out);
	kube_names_free(m);
}

static void table_shows_the_name_beside_the_address(void **state)
{
	(void)state;
	struct kube_names *m = cluster();
	struct bt_render r = { .names = m };
	char *out = handle(&r, EV("05", ""));

	assert_non_null(strstr(out, "10.1.0.2:40000 (pod shop/old) -> 10.96.0.10:443 (svc shop/api)\n"));
	free(out);
	out = handle(&r, EV("11", ""));
	assert_non_null(strstr(out, "10.1.0.2:40000 -> 10.96.0.10:443 (svc shop/api)\n"));
	free(out);
	kube_names_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_gains_the_names_of_the_events_time),
		cmocka_unit_test(table_shows_the_name_beside_the_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
