/*
 * Address -> name of the pod, service or node that had it, at a given time
 * (kube/names.c). Fed with the objects a list + watch of pods, services and
 * nodes brings, asked once per event. Pure: no I/O, so unit tests feed it
 * objects and the plugin its watch lines.
 *
 * Time-aware: every address keeps the intervals in which an object held it
 * ([from, to) in ns since the epoch). An object's interval opens at its
 * creationTimestamp (or when first seen, without one) and closes when it is
 * deleted or drops the address (the time we saw that). When intervals of an
 * address overlap (a new pod's creation precedes the old one's end: the
 * address is reused only once the old one is gone), the earliest-ending one
 * containing the event's time wins: the old holder until it is gone, then
 * the new one.
 *
 * What maps: pods' status.podIPs (status.podIP without it), except
 * hostNetwork pods (their address is their node's); services' clusterIPs
 * (not "None"), externalIPs and load balancer ingress IPs; nodes'
 * InternalIP and ExternalIP addresses.
 */
#ifndef RETINA_KUBE_NAMES_H
#define RETINA_KUBE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum kn_kind { KN_POD, KN_SVC, KN_NODE, KN_KINDS };

struct kube_names;

struct kube_names *kube_names_new(void);
void kube_names_free(struct kube_names *m);

/* "pods", "services", "nodes" (a resource as the API names it) -> kind; -1 for others. */
int kube_names_kind(const char *resource);
/* The JSON key stem of a kind: "pod", "svc", "node". */
const char *kube_names_key(enum kn_kind kind);

/*
 * One object of kind as a watch saw it at now_ns: type ADDED, MODIFIED
 * (a list's items count as ADDED) or DELETED; BOOKMARK and others are
 * ignored. 0, or -1 when obj is not such an object (no name) or out of memory.
 */
int kube_names_apply(struct kube_names *m, enum kn_kind kind, const char *type, const cJSON *obj,
		     int64_t now_ns);

/*
 * A relist of kind (after 410 Gone, or a new list): begin, apply the items,
 * end: objects of kind the list no longer holds are closed at now_ns, as if
 * deleted.
 */
void kube_names_relist_begin(struct kube_names *m, enum kn_kind kind);
void kube_names_relist_end(struct kube_names *m, enum kn_kind kind, int64_t now_ns);

/*
 * The same for one namespace's list, while other namespaces' lists of the
 * same kind may interleave (a watch per namespace when the cluster scope is
 * forbidden): begin returns the relist's generation; end closes only the
 * objects of namespace ns (NULL: of every namespace) not applied since it.
 */
uint32_t kube_names_relist_begin_gen(struct kube_names *m, enum kn_kind kind);
void kube_names_relist_end_in(struct kube_names *m, enum kn_kind kind, uint32_t gen, const char *ns,
			      int64_t now_ns);

/*
 * The name of the object that held addr (IPv4 or IPv6 text) at ts_ns:
 * "namespace/name" (a node: its name), its kind in *kind; NULL when none
 * did (or addr is not an address). Valid until the next apply or prune.
 */
const char *kube_names_lookup(const struct kube_names *m, const char *addr, int64_t ts_ns, enum kn_kind *kind);
/* The same for a binary address: 4 or 16 bytes. */
const char *kube_names_lookup_bin(const struct kube_names *m, const void *addr, size_t len, int64_t ts_ns,
				  enum kn_kind *kind);

/* Forget intervals that ended before before_ns (events that old no longer come). */
int kube_names_prune(struct kube_names *m, int64_t before_ns);

/* Bytes the map holds (its arrays and names), and its open and closed intervals. */
size_t kube_names_bytes(const struct kube_names *m);
void kube_names_counts(const struct kube_names *m, size_t *open, size_t *closed);

#endif
