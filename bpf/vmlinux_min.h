/*
 * The few kernel types our BPF programs touch, declared by hand instead of a
 * generated vmlinux.h: preserve_access_index makes every field access a CO-RE
 * relocation, resolved against the *running* kernel's BTF at load time, so
 * layout here need not match any kernel. Add fields as programs need them.
 */
#ifndef RETINA_VMLINUX_MIN_H
#define RETINA_VMLINUX_MIN_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* uapi (fixed layout, not relocated): what bpf_get_ns_current_pid_tgid() fills. */
struct bpf_pidns_info {
	__u32 pid;
	__u32 tgid;
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct task_struct {
	int pid;
	int tgid;
};

#pragma clang attribute pop

#endif
