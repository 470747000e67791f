/*
 * --ship-binary's pure part (applets/kubectl/kubectl_ship_rules.c): which
 * image a node can run retina in, what makes a binary the right one for a
 * node, the ConfigMap's name, and the node pod's volume (kube/debugpod.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applets/kubectl/kubectl_ship.h"

static bool pick(const char *node, const char *pods, char *out, size_t len)
{
	cJSON *n = cJSON_Parse(node), *p = pods ? cJSON_Parse(pods) : NULL;
	bool ok = ship_pick_image(n, p, out, len);

	cJSON_Delete(n);
	cJSON_Delete(p);
	return ok;
}

static void test_pause_names(void **state)
{
	(void)state;
	assert_true(ship_is_pause("registry.k8s.io/pause:3.10"));
	assert_true(ship_is_pause("mcr.microsoft.com/oss/kubernetes/pause:3.6"));
	assert_true(ship_is_pause("localhost:5000/pause@sha256:abcd"));
	assert_true(ship_is_pause("pause"));
	assert_false(ship_is_pause("registry.k8s.io/pause-amd64x:3"));
	assert_false(ship_is_pause("pause.io/coredns:1.11"));	/* the registry's name is no repository */
	assert_false(ship_is_pause("registry.k8s.io/kube-proxy:v1.32"));
}

static void test_image_pause_first_then_running_pods(void **state)
{
	(void)state;
	char img[512];
	/* a pause image's tag before its digest, whatever comes first in the list */
	assert_true(pick("{\"status\":{\"images\":[{\"names\":[\"r.io/coredns:1\"]},{\"names\":["
			 "\"registry.k8s.io/pause@sha256:aa\",\"registry.k8s.io/pause:3.10\"]}]}}", NULL, img,
			 sizeof(img)));
	assert_string_equal(img, "registry.k8s.io/pause:3.10");
	assert_true(pick("{\"status\":{\"images\":[{\"names\":[\"registry.k8s.io/pause@sha256:aa\"]}]}}", NULL, img,
			 sizeof(img)));
	assert_string_equal(img, "registry.k8s.io/pause@sha256:aa");
	/* no pause image: a running container's image; a waiting one's is not on the node yet */
	const char *pods = "{\"items\":[{\"status\":{\"containerStatuses\":[{\"image\":\"r.io/pulling:1\","
			   "\"state\":{\"waiting\":{}}}]}},{\"status\":{\"containerStatuses\":[{\"image\":"
			   "\"r.io/app:2\",\"state\":{\"running\":{}}}]}}]}";
	assert_true(pick("{\"status\":{\"images\":[{\"names\":[\"r.io/coredns:1\"]}]}}", pods, img, sizeof(img)));
	assert_string_equal(img, "r.io/app:2");
	assert_false(pick("{\"status\":{}}", "{\"items\":[]}", img, sizeof(img)));
	/* a name that is no image reference is never taken */
	assert_false(pick("{\"status\":{\"images\":[{\"names\":[\"r.io/pause:1 --privileged\"]}]}}", NULL, img,
			  sizeof(img)));
}

/* A minimal ELF64 LE image: header, one program header of type, the tag. */
static size_t elf(unsigned char *b, size_t cap, unsigned machine, unsigned ptype, const char *tag)
{
	memset(b, 0, cap);
	memcpy(b, "\177ELF\2\1\1", 7);
	b[18] = machine & 0xff;
	b[19] = machine >> 8;
	b[32] = 64;			/* e_phoff */
	b[54] = 56;			/* e_phentsize */
	b[56] = 1;			/* e_phnum */
	b[64] = ptype;
	size_t n = 64 + 56;
	memcpy(b + n, "retina-build:", 14);	/* the tag alone, as the binary holds SHIP_TAG too */
	n += 14;
	if (tag) {
		memcpy(b + n, tag, strlen(tag) + 1);
		n += strlen(tag) + 1;
	}
	return n;
}

static void test_binary_checks(void **state)
{
	(void)state;
	unsigned char b[512];
	char err[300];
	size_t n = elf(b, sizeof(b), 183, 1, SHIP_TAG "v1.2");

	assert_int_equal(ship_check_binary(b, n, ship_arch_index("arm64"), "v1.2", err, sizeof(err)), 0);
	assert_int_equal(ship_check_binary(b, n, ship_arch_index("amd64"), "v1.2", err, sizeof(err)), -1);
	assert_string_equal(err, "built for arm64, not amd64 (ELF machine 183)");
	assert_int_equal(ship_check_binary(b, n, 1, "v1.3", err, sizeof(err)), -1);
	assert_string_equal(err, "retina v1.2, not this plugin's version v1.3");
	assert_int_equal(ship_check_binary(b, n, 1, "v1", err, sizeof(err)), -1);	/* a prefix is no match */
	n = elf(b, sizeof(b), 62, 3 /* PT_INTERP */, SHIP_TAG "v1.2");
	assert_int_equal(ship_check_binary(b, n, 0, "v1.2", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dynamically linked"));
	n = elf(b, sizeof(b), 62, 1, NULL);
	assert_int_equal(ship_check_binary(b, n, 0, "v1.2", err, sizeof(err)), -1);
	assert_string_equal(err, "not a retina build (no retina-build: string)");
	assert_int_equal(ship_check_binary((const unsigned char *)"#!/bin/sh\n", 10, 0, "v", err, sizeof(err)), -1);
	assert_string_equal(err, "not an ELF executable");
	n = elf(b, sizeof(b), 62, 1, SHIP_TAG "v");
	b[56] = 200;	/* program headers beyond the file */
	assert_int_equal(ship_check_binary(b, n, 0, "v", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "damaged"));
	assert_int_equal(ship_arch_index("s390x"), -1);
}

static void test_configmap_name_is_the_sha256(void **state)
{
	(void)state;
	char name[64];

	ship_configmap_name((const unsigned char *)"abc", 3, name, sizeof(name));
	assert_string_equal(name, "retina-bin-ba7816bf8f01cfea414140de5dae2223b00361a3");
}

static void test_applets_without_a_shell(void **state)
{
	(void)state;
	assert_true(ship_applet_ok("capcheck") && ship_applet_ok("trace") && ship_applet_ok("traceloop"));
	assert_false(ship_applet_ok("sh") || ship_applet_ok("kubectl-retina") || ship_applet_ok("shell-init"));
}

static void test_pod_mounts_the_configmap(void **state)
{
	(void)state;
	const char *cmd[] = { SHIP_PATH, "trace", NULL };
	struct debugpod_spec s = { .name = "p", .ns = "default", .node = "n1", .image = "registry.k8s.io/pause:3.10",
				   .command = cmd, .configmap = "retina-bin-00" };
	cJSON *pod = debugpod_node_pod(&s);
	char *txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(pod, "spec"));

	assert_non_null(strstr(txt, "\"volumes\":[{\"name\":\"retina-bin\",\"configMap\":{\"name\":\"retina-bin-00\","
				    "\"defaultMode\":365}}]"));
	assert_non_null(strstr(txt, "\"volumeMounts\":[{\"name\":\"retina-bin\",\"mountPath\":\"/retina-bin\","
				    "\"readOnly\":true}]"));
	assert_non_null(strstr(txt, "\"imagePullPolicy\":\"Never\""));
	assert_non_null(strstr(txt, "\"runAsUser\":0,\"runAsGroup\":0"));
	free(txt);
	cJSON_Delete(pod);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_names),
		cmocka_unit_test(test_image_pause_first_then_running_pods),
		cmocka_unit_test(test_binary_checks),
		cmocka_unit_test(test_configmap_name_is_the_sha256),
		cmocka_unit_test(test_applets_without_a_shell),
		cmocka_unit_test(test_pod_mounts_the_configmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
