/*
 * kube/debugpod: what a pod's status means while waiting (running, keep
 * waiting, or a message a person can act on), and the specs' invariants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/debugpod.h"
#include "lib/caps.h"

static int check(const char *json, const char *container, bool ephemeral, const char **phase, char *err,
		 size_t errlen)
{
	cJSON *pod = cJSON_Parse(json);
	assert_non_null(pod);
	err[0] = '\0';
	int rc = debugpod_check(pod, container, ephemeral, phase, err, errlen);
	cJSON_Delete(pod);
	return rc;
}

#define SPEC "\"spec\":{\"containers\":[{\"name\":\"retina-shell\",\"image\":\"reg/rs:v1\"}]}"

/* The server's words in an error are printable (fuzz_debugpod_check found a raw \x01). */
static void test_error_has_no_control_characters(void **state)
{
	(void)state;
	const char *phase;
	char err[512];

	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"conditions\":[{\"type\":"
			       "\"PodScheduled\",\"reason\":\"Unschedulable\",\"message\":\"0/3\\u001b[2J nodes\"}]}}",
			       "retina-shell", false, &phase, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0/3 [2J nodes"));
}

static void test_waiting_phases(void **state)
{
	(void)state;
	const char *phase;
	char err[512];

	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"phase\":\"Pending\"}}",
			       "retina-shell", false, &phase, err, sizeof(err)), 0);
	assert_string_equal(phase, "scheduling");
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"conditions\":[{\"type\":"
			       "\"PodScheduled\",\"status\":\"True\"}]}}", "retina-shell", false, &phase, err,
			       sizeof(err)), 0);
	assert_string_equal(phase, "pulling image");
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"containerStatuses\":[{\"name\":"
			       "\"retina-shell\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}",
			       "retina-shell", false, &phase, err, sizeof(err)), 0);
	assert_string_equal(phase, "starting");
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"containerStatuses\":[{\"name\":"
			       "\"retina-shell\",\"state\":{\"running\":{}}}]}}", "retina-shell", false, &phase, err,
			       sizeof(err)), 1);
	/* another container running is not ours */
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"containerStatuses\":[{\"name\":"
			       "\"app\",\"state\":{\"running\":{}}}]}}", "retina-shell", false, &phase, err,
			       sizeof(err)), 0);
	/* ephemeral containers are looked up in their own lists */
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"ephemeralContainers\":[{\"name\":\"e\"}]},"
			       "\"status\":{\"phase\":\"Running\",\"ephemeralContainerStatuses\":[{\"name\":\"e\","
			       "\"state\":{\"running\":{}}}]}}", "e", true, &phase, err, sizeof(err)), 1);
}

static void test_failures_say_what_to_do(void **state)
{
	(void)state;
	const char *phase;
	char err[512];

	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"containerStatuses\":[{\"name\":"
			       "\"retina-shell\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\",\"message\":"
			       "\"not found\"}}}]}}", "retina-shell", false, &phase, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot pull image reg/rs:v1 (ErrImagePull: not found)"));
	assert_non_null(strstr(err, "--retina-shell-image-repo (or RETINA_SHELL_IMAGE_REPO)"));
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"conditions\":[{\"type\":"
			       "\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":"
			       "\"0/1 nodes\"}]}}", "retina-shell", false, &phase, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pod p cannot be scheduled: 0/1 nodes"));
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"containerStatuses\":[{\"name\":"
			       "\"retina-shell\",\"state\":{\"waiting\":{\"reason\":\"CreateContainerConfigError\"}}}]}}",
			       "retina-shell", false, &phase, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CreateContainerConfigError"));
	assert_int_equal(check("{\"metadata\":{\"name\":\"p\"}," SPEC ",\"status\":{\"containerStatuses\":[{\"name\":"
			       "\"retina-shell\",\"state\":{\"terminated\":{\"reason\":\"Error\",\"exitCode\":2}}}]}}",
			       "retina-shell", false, &phase, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ended before it could be attached (Error, exit code 2)"));
	/* garbage is "keep waiting", never a crash */
	assert_int_equal(check("{\"status\":[1,2],\"spec\":7}", "retina-shell", false, &phase, err, sizeof(err)), 0);
}

static void test_node_pod_grants_only_what_was_asked(void **state)
{
	(void)state;
	struct debugpod_spec s = { .name = "retina-shell-1", .ns = "default", .node = "node-1",
				   .image = "reg/rs:v1", .open_stdin = true,
				   .caps = CAPBIT(CAPN_NET_RAW) | CAPBIT(CAPN_NET_ADMIN) };
	cJSON *pod = debugpod_node_pod(&s);
	char *txt = cJSON_PrintUnformatted(pod);

	assert_non_null(strstr(txt, "\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"NET_ADMIN\",\"NET_RAW\"]}"));
	assert_null(strstr(txt, "privileged"));
	assert_null(strstr(txt, "hostPID"));
	assert_null(strstr(txt, "\"tty\""));
	assert_null(strstr(txt, "volumes"));
	assert_null(strstr(txt, "seccompProfile"));
	free(txt);
	cJSON_Delete(pod);

	s.mount_host = s.host_write = s.host_pid = s.tty = true;
	s.caps = 0;
	pod = debugpod_node_pod(&s);
	txt = cJSON_PrintUnformatted(pod);
	assert_non_null(strstr(txt, "\"volumeMounts\":[{\"name\":\"host-root\",\"mountPath\":\"/host\"}]"));
	assert_non_null(strstr(txt, "\"hostPID\":true"));
	assert_non_null(strstr(txt, "\"tty\":true"));
	assert_null(strstr(txt, "\"add\""));
	free(txt);
	cJSON_Delete(pod);
}

static void test_names_are_random(void **state)
{
	(void)state;
	char a[32], b[32];

	debugpod_name(a, sizeof(a), "retina-shell-");
	debugpod_name(b, sizeof(b), "retina-shell-");
	assert_int_equal(strlen(a), 21);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a + 13, "0123456789abcdef"), 8);
}

static void test_image_flags_env_and_defaults(void **state)
{
	(void)state;
	char img[128], err[512];

	unsetenv("RETINA_SHELL_IMAGE_REPO");
	unsetenv("RETINA_SHELL_IMAGE_VERSION");
	assert_int_equal(debugpod_image(img, sizeof(img), NULL, NULL, "build.example/rs", "v1.2", err, sizeof(err)), 0);
	assert_string_equal(img, "build.example/rs:v1.2");
	/* a build without IMAGE_REPO has no default: one line saying what to pass */
	assert_int_equal(debugpod_image(img, sizeof(img), NULL, NULL, "", "v1.2", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no default image repository"));
	assert_non_null(strstr(err, "--retina-shell-image-repo"));
	assert_non_null(strstr(err, "--ship-binary"));
	assert_null(strchr(err, '\n'));
	setenv("RETINA_SHELL_IMAGE_REPO", "mirror.local/retina", 1);
	setenv("RETINA_SHELL_IMAGE_VERSION", "v9", 1);
	assert_int_equal(debugpod_image(img, sizeof(img), "", NULL, "", "v1.2", err, sizeof(err)), 0);
	assert_string_equal(img, "mirror.local/retina:v9");
	/* flags win over the environment; a digest is joined with '@' */
	assert_int_equal(debugpod_image(img, sizeof(img), "r.io/x", "sha256:ab12", "", "v1.2", err, sizeof(err)), 0);
	assert_string_equal(img, "r.io/x@sha256:ab12");
	assert_int_equal(debugpod_image(img, sizeof(img), "r.io/x y", NULL, "", "v1", err, sizeof(err)), -1);
	assert_string_equal(err, "bad image repository 'r.io/x y'");
	assert_int_equal(debugpod_image(img, sizeof(img), NULL, "v1;rm", "", "v1", err, sizeof(err)), -1);
	assert_string_equal(err, "bad image version 'v1;rm'");
	unsetenv("RETINA_SHELL_IMAGE_REPO");
	unsetenv("RETINA_SHELL_IMAGE_VERSION");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waiting_phases),
		cmocka_unit_test(test_error_has_no_control_characters),
		cmocka_unit_test(test_failures_say_what_to_do),
		cmocka_unit_test(test_node_pod_grants_only_what_was_asked),
		cmocka_unit_test(test_names_are_random),
		cmocka_unit_test(test_image_flags_env_and_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
