/*
 * libbpf's messages for the applets that load BPF programs. Built into the
 * binary only: the host builds of lib/ for unit tests and fuzzing have no
 * libbpf (Makefile: HOST_SRC leaves lib/libbpf_*.c out).
 */
#ifndef RETINA_LIB_LIBBPF_LOG_H
#define RETINA_LIB_LIBBPF_LOG_H

#include <stdbool.h>

/* verbose: libbpf's warnings and info as "libbpf: ..." on stderr (never its debug); else nothing. */
void libbpf_messages(bool verbose);

#endif
