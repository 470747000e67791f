/* retina trace --pods: network namespace -> pod, from the node (see trace_pods.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/trace/trace_pods.h"
#include "lib/sys.h"
#include "node/pods.h"

#define RESCAN_MS 1000

struct trace_pods {
	struct pod_netns *v;
	size_t n;
	char (*names)[320];	/* per v[i]: "ns/name" or the UID */
	long long scanned_ms;
};

static void scan(struct trace_pods *p)
{
	struct pod_netns *v;
	size_t n;

	p->scanned_ms = mono_ms();
	if (pod_netns_scan(&v, &n))
		return;	/* keep what we had */
	char (*names)[320] = calloc(n ? n : 1, sizeof(*names));
	if (!names) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = v[i].named && v[i].id.name[0] ? v[i].id.name : v[i].uid;
		snprintf(names[i], sizeof(names[0]), "%s%s%s", v[i].named && v[i].id.ns[0] ? v[i].id.ns : "",
			 v[i].named && v[i].id.ns[0] ? "/" : "", s);
		/* from a pod's own files: printable, no quotes, for JSON and the terminal */
		for (char *c = names[i]; *c; c++)
			if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '"' || *c == '\\')
				*c = '?';
	}
	free(p->v);
	free(p->names);
	p->v = v;
	p->n = n;
	p->names = names;
}

struct trace_pods *trace_pods_new(void)
{
	struct trace_pods *p = calloc(1, sizeof(*p));

	if (p)
		scan(p);
	return p;
}

void trace_pods_free(struct trace_pods *p)
{
	if (!p)
		return;
	free(p->v);
	free(p->names);
	free(p);
}

const char *trace_pods_name(struct trace_pods *p, unsigned int inode)
{
	for (int pass = 0; p && inode && pass < 2; pass++) {
		for (size_t i = 0; i < p->n; i++)
			if (p->v[i].inode == inode)
				return p->names[i];
		if (pass || mono_ms() - p->scanned_ms < RESCAN_MS)
			break;
		scan(p);
	}
	return NULL;
}
