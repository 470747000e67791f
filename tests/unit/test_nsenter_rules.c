/* Unit tests for node/pods_rules.c and applets/nsenter/nsenter_rules.c: cgroup lines of real nodes, pod picking, fixes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "applets/nsenter/nsenter.h"
#include "lib/caps.h"
#include "lib/retina.h"

#define UID "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UIDU "1b4e28ba_2fa1_11d2_883f_0016d3cca427"
#define CID "8e2c5f1b7a3d4e6f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"

static void line_split_takes_three_fields(void **state)
{
	char l1[] = "0::/kubepods.slice/x.scope\n", l2[] = "4:memory:/a/b", l3[] = "9:name=systemd:/";
	char *ctl, *path;
	int h;
	(void)state;

	assert_int_equal(cgroup_line_split(l1, &h, &ctl, &path), 0);
	assert_int_equal(h, 0);
	assert_string_equal(ctl, "");
	assert_string_equal(path, "/kubepods.slice/x.scope");
	assert_int_equal(cgroup_line_split(l2, &h, &ctl, &path), 0);
	assert_int_equal(h, 4);
	assert_string_equal(ctl, "memory");
	assert_string_equal(path, "/a/b");
	assert_int_equal(cgroup_line_split(l3, &h, &ctl, &path), 0);
	assert_string_equal(ctl, "name=systemd");
	assert_string_equal(path, "/");
}

static void line_split_rejects_junk(void **state)
{
	const char *bad[] = { "", ":", "::", "0:", "x::/a", "0::a", "-1::/a", ":cpu:/a", "12345678901::/a", "0:cpu" };
	char buf[64], *ctl, *path;
	int h;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		assert_int_equal(cgroup_line_split(buf, &h, &ctl, &path), -1);
	}
}

struct shape {
	const char *path, *uid, *cid, *qos;
	bool conmon;
};

/* Paths as kubelet, containerd, CRI-O, docker and kind really write them. */
static const struct shape pods[] = {
	/* systemd driver, cgroup v2 (containerd) */
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" CID ".scope",
	  UID, CID, "besteffort", false },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/cri-containerd-" CID ".scope",
	  UID, CID, "burstable", false },
	{ "/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" CID ".scope", UID, CID, "guaranteed", false },
	/* CRI-O, systemd, with its conmon beside the container */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/crio-" CID ".scope", UID, CID,
	  "burstable", false },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/crio-conmon-" CID ".scope",
	  UID, CID, "burstable", true },
	/* docker (cri-dockerd), systemd */
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice/docker-" CID ".scope", UID,
	  CID, "besteffort", false },
	/* the pod's own cgroup: no container */
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice", UID, "", "besteffort", false },
	/* kind: kubelet in a container, nested slices */
	{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UIDU
	  ".slice/cri-containerd-" CID ".scope", UID, CID, "besteffort", false },
	/* cgroupfs driver, v1 and v2 */
	{ "/kubepods/besteffort/pod" UID "/" CID, UID, CID, "besteffort", false },
	{ "/kubepods/burstable/pod" UID "/" CID, UID, CID, "burstable", false },
	{ "/kubepods/pod" UID "/" CID, UID, CID, "guaranteed", false },
	{ "/kubepods/pod" UID, UID, "", "guaranteed", false },
	/* cgroupfs under docker-in-docker / k3s */
	{ "/docker/0123abcd/kubepods/besteffort/pod" UID "/" CID, UID, CID, "besteffort", false },
	{ "/kubepods/besteffort/pod" UID "/crio-" CID, UID, CID, "besteffort", false },
	/* containerd, systemd driver, cgroup v1: the scope is a colon-joined name */
	{ "/system.slice/containerd.service/kubepods-burstable-pod" UIDU ".slice:cri-containerd:" CID, UID, CID,
	  "burstable", false },
	/* seen from inside a cgroup namespace */
	{ "/../../kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" CID ".scope", UID, CID, "besteffort", false },
	{ "/../../besteffort/pod" UID "/" CID, UID, CID, "besteffort", false },
	{ "/../pod" UID "/" CID, UID, CID, "guaranteed", false },
	/* static pod: the UID is a 32-hex hash */
	{ "/kubepods/burstable/pod6f7b1f0a2b3c4d5e6f708192a3b4c5d6/" CID, "6f7b1f0a2b3c4d5e6f708192a3b4c5d6", CID,
	  "burstable", false },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6F7B1F0A2B3C4D5E6F708192A3B4C5D6.slice/"
	  "cri-containerd-" CID ".scope", "6f7b1f0a2b3c4d5e6f708192a3b4c5d6", CID, "burstable", false },
	/* a process in a sub-cgroup of its container (systemd in a container) */
	{ "/kubepods/besteffort/pod" UID "/" CID "/init.scope", UID, CID, "besteffort", false },
	/* trailing slash, doubled slashes */
	{ "//kubepods//besteffort//pod" UID "//" CID "/", UID, CID, "besteffort", false },
};

static void paths_of_every_driver_name_pod_and_container(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		struct cgroup_ref r;
		if (cgroup_path_pod(pods[i].path, &r))
			fail_msg("not recognized: %s", pods[i].path);
		assert_string_equal(r.pod_uid, pods[i].uid);
		assert_string_equal(r.container_id, pods[i].cid);
		assert_string_equal(r.qos, pods[i].qos);
		assert_int_equal(r.conmon, pods[i].conmon);
	}
}

static void pod_path_len_ends_at_the_pod_cgroup(void **state)
{
	const char *sd = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" CID
			 ".scope";
	const char *fs = "/kubepods/besteffort/pod" UID "/" CID;
	const char *colon = "/system.slice/containerd.service/kubepods-burstable-pod" UIDU ".slice:cri-containerd:" CID;
	struct cgroup_ref r;
	(void)state;

	assert_int_equal(cgroup_path_pod(sd, &r), 0);
	assert_int_equal(r.pod_path_len, strstr(sd, "/cri-containerd") - sd);
	assert_int_equal(cgroup_path_pod(fs, &r), 0);
	assert_int_equal(r.pod_path_len, strlen("/kubepods/besteffort/pod" UID));
	assert_int_equal(cgroup_path_pod(colon, &r), 0);
	assert_int_equal(r.pod_path_len, 0);	/* not a directory of its own */
}

static void paths_outside_pods_are_not_pods(void **state)
{
	const char *not_pods[] = {
		"/",
		"/user.slice/user-0.slice/session-1.scope",
		"/system.slice/containerd.service",
		"/system.slice/kubelet.service",
		"/kubepods.slice",
		"/kubepods.slice/kubepods-besteffort.slice",
		"/kubepods/besteffort",
		"/pod" UID "/" CID,			/* no kubepods ancestor */
		"/myapp/pod" UID,
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice",	/* short UID */
		"/kubepods/besteffort/pod" UID "x/" CID,					/* 37 chars */
		"/kubepods/besteffort/podzb4e28ba-2fa1-11d2-883f-0016d3cca427/" CID,		/* not hex */
		"/kubepods/besteffort/pod1b4e28ba+2fa1-11d2-883f-0016d3cca427/" CID,		/* bad separator */
		"/system.slice/docker-" CID ".scope",
		"/machine.slice/libpod-" CID ".scope",
		"/kubepods-besteffort-pod" UIDU ".scope",	/* a scope is not a pod slice */
		"",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(not_pods); i++) {
		struct cgroup_ref r;
		if (!cgroup_path_pod(not_pods[i], &r))
			fail_msg("taken for a pod: %s", not_pods[i]);
		assert_string_equal(r.pod_uid, "");
	}
}

static void uid_normalize_accepts_both_separators_and_case(void **state)
{
	char out[POD_UID_MAX];
	(void)state;

	assert_int_equal(pod_uid_normalize(UIDU, out), 0);
	assert_string_equal(out, UID);
	assert_int_equal(pod_uid_normalize("1B4E28BA-2FA1-11D2-883F-0016D3CCA427", out), 0);
	assert_string_equal(out, UID);
	assert_int_equal(pod_uid_normalize("6f7b1f0a2b3c4d5e6f708192a3b4c5d6", out), 0);
	assert_int_equal(pod_uid_normalize("default/web", out), -1);
	assert_int_equal(pod_uid_normalize("1b4e28ba-2fa1-11d2-883f", out), -1);
	assert_int_equal(pod_uid_normalize("", out), -1);
	assert_int_equal(pod_uid_normalize(NULL, out), -1);
}

static void hostname_matches_truncated_names(void **state)
{
	(void)state;
	assert_true(pod_hostname_matches("web-7d9f", "web-7d9f"));
	assert_false(pod_hostname_matches("web-7d9f", "web-7d9"));
	assert_false(pod_hostname_matches("", ""));
	/* 70 chars: kubelet keeps 63, then trims the trailing '-' at 63 */
	const char *longname = "a-very-long-deployment-name-that-goes-on-and-on-and-on-abcdefgh-xyz12";
	char host[64];
	snprintf(host, sizeof(host), "%.63s", longname);
	assert_true(pod_hostname_matches(longname, host));
	const char *dash63 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbb";	/* '-' is char 63 */
	assert_true(pod_hostname_matches(dash63, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void resolv_conf_names_the_pod_namespace(void **state)
{
	char ns[64];
	(void)state;

	assert_int_equal(resolv_pod_namespace("search shop.svc.cluster.local svc.cluster.local cluster.local\n"
					      "nameserver 10.96.0.10\noptions ndots:5\n", ns, sizeof(ns)), 0);
	assert_string_equal(ns, "shop");
	assert_int_equal(resolv_pod_namespace("nameserver 1.1.1.1\nsearch\tkube-system.svc.k8s.example corp.example\n",
					      ns, sizeof(ns)), 0);
	assert_string_equal(ns, "kube-system");
	assert_int_equal(resolv_pod_namespace("search corp.example svc.cluster.local\n", ns, sizeof(ns)), -1);
	assert_int_equal(resolv_pod_namespace("nameserver 10.0.0.1\n", ns, sizeof(ns)), -1);
	assert_int_equal(resolv_pod_namespace("searchx a.svc.b\n", ns, sizeof(ns)), -1);
	assert_int_equal(resolv_pod_namespace("", ns, sizeof(ns)), -1);
	/* CRLF and a bare '\r' once made the word loop stand still (found by fuzz_cgroup) */
	assert_int_equal(resolv_pod_namespace("search \r x\r\n", ns, sizeof(ns)), -1);
	assert_int_equal(resolv_pod_namespace("search web.svc.cluster.local\r\n", ns, sizeof(ns)), 0);
	assert_string_equal(ns, "web");
}

static struct pod_proc mk(int pid, int ppid, const char *comm, const char *uid, const char *cid, const char *name)
{
	struct pod_proc p = { .pid = pid, .ppid = ppid };

	snprintf(p.comm, sizeof(p.comm), "%s", comm);
	snprintf(p.ref.pod_uid, sizeof(p.ref.pod_uid), "%s", uid);
	snprintf(p.ref.container_id, sizeof(p.ref.container_id), "%s", cid);
	snprintf(p.container_name, sizeof(p.container_name), "%s", name);
	return p;
}

#define OTHER "00000000-0000-0000-0000-000000000000"

static void pick_enters_the_only_app_container_at_its_init(void **state)
{
	struct pod_proc procs[] = {
		mk(100, 1, "pause", UID, "aaaa1111", ""),
		mk(210, 200, "nginx", UID, "bbbb2222", "web"),	/* 200 is the shim, outside */
		mk(211, 210, "nginx", UID, "bbbb2222", "web"),
		mk(300, 1, "redis", OTHER, "cccc3333", "db"),
	};
	size_t idx = 99;
	(void)state;

	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, NULL, &idx), PICK_OK);
	assert_int_equal(procs[idx].pid, 210);
	assert_true(pod_container_is_sandbox(procs, ARRAY_SIZE(procs), UID, "aaaa1111"));
	assert_false(pod_container_is_sandbox(procs, ARRAY_SIZE(procs), UID, "bbbb2222"));
}

static void pick_needs_a_container_when_there_are_several(void **state)
{
	struct pod_proc procs[] = {
		mk(100, 1, "pause", UID, "aaaa1111", ""),
		mk(211, 210, "nginx", UID, "bbbb2222", "web"),
		mk(212, 211, "nginx", UID, "bbbb2222", "web"),
		mk(311, 310, "envoy", UID, "bbbb3333", "sidecar"),
		mk(400, 1, "conmon", UID, "bbbb3333", ""),
	};
	size_t idx = 99;
	(void)state;

	procs[4].ref.conmon = true;
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, NULL, &idx), PICK_AMBIGUOUS);
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, "sidecar", &idx), PICK_OK);
	assert_int_equal(procs[idx].pid, 311);
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, "bbbb2", &idx), PICK_OK);	/* ID prefix */
	assert_int_equal(procs[idx].pid, 211);
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, "bbbb", &idx), PICK_AMBIGUOUS);
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, "web", &idx), PICK_OK);
	assert_int_equal(procs[idx].pid, 211);
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), UID, "nope", &idx), PICK_NO_CONTAINER);
	assert_int_equal(pod_pick(procs, ARRAY_SIZE(procs), OTHER, NULL, &idx), PICK_NO_POD);
}

static void pick_falls_back_to_the_sandbox(void **state)
{
	struct pod_proc procs[] = { mk(100, 1, "pause", UID, "aaaa1111", "") };
	struct pod_proc bare[] = { mk(100, 1, "sh", UID, "", "") };	/* only in the pod's own cgroup */
	size_t idx = 99;
	(void)state;

	assert_int_equal(pod_pick(procs, 1, UID, NULL, &idx), PICK_SANDBOX_ONLY);
	assert_int_equal(idx, 0);
	assert_int_equal(pod_pick(bare, 1, UID, NULL, &idx), PICK_NO_CONTAINER);
}

static void fixes_name_the_capability_and_the_shell_flag(void **state)
{
	char buf[256];
	uint64_t all = ~0ULL;
	(void)state;

	nsenter_fix(STEP_SETNS, EPERM, all & ~CAPBIT(CAPN_SYS_ADMIN), 0, buf, sizeof(buf));
	assert_string_equal(buf, "needs CAP_SYS_ADMIN: kubectl retina shell --capabilities SYS_ADMIN");
	nsenter_fix(STEP_OPEN_NS, EACCES, 0, 0, buf, sizeof(buf));
	assert_string_equal(buf, "needs CAP_SYS_PTRACE: kubectl retina shell --capabilities SYS_PTRACE");
	nsenter_fix(STEP_CHROOT, EPERM, 0, 0, buf, sizeof(buf));
	assert_string_equal(buf, "needs CAP_SYS_CHROOT: kubectl retina shell --capabilities SYS_CHROOT");
	nsenter_fix(STEP_SETNS, EPERM, all, 2, buf, sizeof(buf));
	assert_non_null(strstr(buf, "--seccomp-unconfined"));
	nsenter_fix(STEP_SETNS, EPERM, all, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "--apparmor-unconfined"));
	nsenter_fix(STEP_SETNS, ENOENT, all, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "exited"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(line_split_takes_three_fields),
		cmocka_unit_test(line_split_rejects_junk),
		cmocka_unit_test(paths_of_every_driver_name_pod_and_container),
		cmocka_unit_test(pod_path_len_ends_at_the_pod_cgroup),
		cmocka_unit_test(paths_outside_pods_are_not_pods),
		cmocka_unit_test(uid_normalize_accepts_both_separators_and_case),
		cmocka_unit_test(hostname_matches_truncated_names),
		cmocka_unit_test(resolv_conf_names_the_pod_namespace),
		cmocka_unit_test(pick_enters_the_only_app_container_at_its_init),
		cmocka_unit_test(pick_needs_a_container_when_there_are_several),
		cmocka_unit_test(pick_falls_back_to_the_sandbox),
		cmocka_unit_test(fixes_name_the_capability_and_the_shell_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
