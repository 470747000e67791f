/*
 * maxrss FILE CMD [ARGS...]: run CMD, write its peak RSS (KiB) to FILE, exit
 * with its status. For tests/bench/kube_bench.py: a Python parent's own RSS
 * would count in its child's ru_maxrss (vfork + exec keeps the old mm's high
 * water mark), so CMD is forked from this tiny static program instead.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int st;

	if (argc < 3) {
		fputs("usage: maxrss FILE CMD [ARGS...]\n", stderr);
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 126;
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		return 126;
	FILE *f = fopen(argv[1], "w");
	if (!f)
		return 126;
	fprintf(f, "%ld\n", ru.ru_maxrss);
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
