/* The monotonic clock, write_all and the stop signals (lib/sys.h). */
#include <errno.h>
#include <unistd.h>

#include "lib/sys.h"

uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long long mono_ms(void)
{
	return (long long)(now_ns(CLOCK_MONOTONIC) / 1000000);
}

long long mono_us(void)
{
	return (long long)(now_ns(CLOCK_MONOTONIC) / 1000);
}

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

void catch_stop_signals(int sa_flags, bool hup)
{
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = sa_flags };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (hup)
		sigaction(SIGHUP, &sa, NULL);
}
