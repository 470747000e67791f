/*
 * UDP flood for the trace benchmark: send small datagrams to HOST:PORT for
 * SECONDS, at PPS packets/s (0: as fast as possible), in batches of 64
 * (sendmmsg). Prints the number sent. Only ever run inside a test namespace.
 * usage: udpflood HOST PORT PPS SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	char payload[16] = "retina-bench";
	socklen_t len;
	int fd;

	if (argc != 5)
		return fprintf(stderr, "usage: udpflood HOST PORT PPS SECONDS\n"), 2;
	if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(atoi(argv[2]));
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(atoi(argv[2]));
		len = sizeof(*sin6);
	} else {
		return fprintf(stderr, "bad host %s\n", argv[1]), 2;
	}
	double pps = atof(argv[3]), secs = atof(argv[4]);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		return perror("socket"), 1;
	iov.iov_base = payload;
	iov.iov_len = sizeof(payload);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0;
	double start = now(), t;
	while ((t = now() - start) < secs) {
		if (pps > 0 && sent >= pps * t) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
			continue;
		}
		/* slow rates send one at a time: no bursts */
		int n = sendmmsg(fd, msgs, pps > 0 && pps < 100 * BATCH ? 1 : BATCH, 0);
		if (n > 0)
			sent += n;
	}
	printf("%llu %.3f\n", sent, now() - start);
	return 0;
}
