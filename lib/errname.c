/* errno <-> name, since musl has no strerrorname_np(). */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "lib/retina.h"

#define E(x) { x, #x }
static const struct { int code; const char *name; } errnames[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR),
	E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(EFBIG),
	E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE),
	E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK), E(ENOSYS), E(ENOTEMPTY),
	E(ELOOP), E(ENOMSG), E(EIDRM), E(ENOSTR), E(ENODATA), E(ETIME),
	E(ENOSR), E(ENOLINK), E(EPROTO), E(EBADMSG), E(EOVERFLOW), E(EILSEQ),
	E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE),
	E(ENOPROTOOPT), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP),
	E(EPFNOSUPPORT), E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL),
	E(ENETDOWN), E(ENETUNREACH), E(ENETRESET), E(ECONNABORTED),
	E(ECONNRESET), E(ENOBUFS), E(EISCONN), E(ENOTCONN), E(ESHUTDOWN),
	E(ETOOMANYREFS), E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTDOWN),
	E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS), E(ESTALE), E(EDQUOT),
	E(ECANCELED), E(EOWNERDEAD), E(ENOTRECOVERABLE), E(ERFKILL),
	E(EHWPOISON), E(ENOKEY), E(EKEYEXPIRED), E(EKEYREVOKED),
	E(EKEYREJECTED), E(ENOMEDIUM), E(EMEDIUMTYPE), E(EREMOTEIO),
	E(EBADFD), E(ENOTUNIQ), E(ENONET), E(EREMCHG), E(ECOMM),
	{ 524, "ENOTSUPP" },	/* kernel-internal, but bpf() returns it */
};
#undef E

const char *errno_name(int err, char buf[16])
{
	/* unsigned: -INT_MIN does not fit an int (the value may come from the kernel) */
	unsigned code = err < 0 ? 0u - (unsigned)err : (unsigned)err;

	for (size_t i = 0; i < ARRAY_SIZE(errnames); i++)
		if ((unsigned)errnames[i].code == code)
			return errnames[i].name;
	snprintf(buf, 16, "E%u", code);
	return buf;
}

int errno_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(errnames); i++)
		if (!strcasecmp(errnames[i].name, name))
			return errnames[i].code;
	return -1;
}
