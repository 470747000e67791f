/*
 * traceloop's pure side: syscall names and the text of one record pair, in the
 * seed demo's form. No I/O and no libbpf, so cmocka drives it.
 */
#ifndef RETINA_TRACELOOP_H
#define RETINA_TRACELOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/traceloop.h"

#define TL_RECORD_SIZE sizeof(struct tl_record)

/* "openat" for 257 (x86_64; per-architecture tables); "syscall_999" for numbers it does not know (into buf). */
const char *tl_syscall_name(unsigned int nr, char buf[24]);

/* A record's call: tl_syscall_name, or "i386:execve" for an i386 (compat) one. */
const char *tl_record_name(const struct tl_record *r, char buf[32]);

/* execve or execveat (native): a successful one from a non-leader thread returns in the leader's ID. */
bool tl_is_exec(const struct tl_record *r);

/* The decoded arguments: filename="/tmp/x", flags=577, mode=438 */
void tl_format_args(const struct tl_record *enter, char *out, size_t len);

/* The result: "3", "-1 ENOENT", "0x7f12a000"; with the data read, for read(2) and friends. */
void tl_format_ret(const struct tl_record *exit, char *out, size_t len);

/*
 * One line: "00:00.068748841 cpu#1 pid 31022 [sh] open(filename=..., ...) = 3".
 * enter or exit may be NULL (a call still blocked, or whose entry was
 * overwritten); t0_ns is the time printed as 00:00.000000000.
 */
void tl_format_line(const struct tl_record *enter, const struct tl_record *exit, uint64_t t0_ns, char *out,
		    size_t len);

/* Bytes as a C string literal with escapes, cut at max_out with "..." when longer. */
void tl_quote(const char *data, size_t n, char *out, size_t len);

/* A struct sockaddr's first bytes: "192.0.2.1:80", "[2001:db8::1]:53", "unix:/run/x.sock". */
void tl_sockaddr(const unsigned char *data, size_t n, char *out, size_t len);

#endif
