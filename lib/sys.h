/*
 * Small system helpers several applets and libraries need once each: the
 * monotonic clock, a write that finishes, and the stop signals of a loop.
 */
#ifndef RETINA_LIB_SYS_H
#define RETINA_LIB_SYS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* clk (CLOCK_MONOTONIC, CLOCK_REALTIME) in nanoseconds. */
uint64_t now_ns(clockid_t clk);
/* CLOCK_MONOTONIC in milliseconds and microseconds: signed, so deadline - now may go below 0. */
long long mono_ms(void);
long long mono_us(void);

/* All n bytes of buf to fd, across short writes and EINTR: 0, or -1 with errno. */
int write_all(int fd, const void *buf, size_t n);

/* The signal that asked this process to stop (SIGINT, SIGTERM, SIGHUP); 0 until one came. */
extern volatile sig_atomic_t stop_signal;
/*
 * Catch SIGINT and SIGTERM (and SIGHUP when hup) into stop_signal.
 * sa_flags: SA_RESTART | SA_RESETHAND where a loop polls with a timeout (a
 * write in progress is not cut; a second signal ends the process at once),
 * 0 where a blocking call must return EINTR to see the flag.
 */
void catch_stop_signals(int sa_flags, bool hup);

#endif
