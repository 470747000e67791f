/* The event execsnoop's BPF program sends to user space (shared by both sides). */
#ifndef RETINA_BPF_EXECSNOOP_H
#define RETINA_BPF_EXECSNOOP_H

#define EXECSNOOP_ARG_MAX 256		/* one argument, with its NUL; longer ones are cut */
#define EXECSNOOP_MAX_ARGS 20		/* more are counted, not copied */
#define EXECSNOOP_ARGS_SIZE 1536	/* all copied arguments, NUL-separated */
#define EXECSNOOP_MAX_CGROUPS 64	/* --pod on cgroup v1: the pod's mount namespaces */

struct exec_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() at the exec's return */
	__u64 cgroup_id;	/* cgroup v2 id */
	__u32 pid, ppid, uid;
	__s32 ret;		/* 0, or -errno */
	__u32 mntns;
	__u32 args_count;	/* arguments copied into args */
	__u32 args_size;	/* bytes of args used */
	__u8 args_truncated;	/* more arguments (or longer ones) than fit */
	__u8 pad[3];
	char comm[16];		/* after the exec: the new program's name, or the caller's on failure */
	char args[EXECSNOOP_ARGS_SIZE];
};

#endif
