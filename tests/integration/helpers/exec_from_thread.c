/*
 * exec_from_thread PROG ARGS...: execv() from a second thread, not the
 * leader. The kernel then kills the other threads and the exec'ing thread
 * takes over the leader's PID (de_thread): a tracer keyed by thread ID at
 * execve entry finds another ID at its exit.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static char **args;

static void *run(void *unused)
{
	(void)unused;
	execv(args[0], args);
	perror("execv");
	_exit(127);
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc < 2) {
		fprintf(stderr, "usage: exec_from_thread PROG ARGS...\n");
		return 2;
	}
	args = argv + 1;
	if (pthread_create(&t, NULL, run, NULL))
		return 1;
	for (;;)
		pause();
}
