/*
 * kubectl retina bpftrace: the pods, services and nodes of the cluster,
 * listed then watched (one list + watch each, kube_list_watch) by threads
 * of their own into one kube_names map that the line handling asks per
 * event (applets/kubectl/kubectl_names.c).
 */
#ifndef RETINA_APPLETS_KUBECTL_NAMES_H
#define RETINA_APPLETS_KUBECTL_NAMES_H

#include "kube/names.h"

struct kube_config;
struct bt_namer;

/*
 * Start the three watches. Pods and services the user may not list
 * cluster-wide are watched in each namespace where they may (at most 16);
 * ns: the one tried when namespaces cannot be listed either. NULL (said on
 * stderr) when nothing could start: the trace goes on without names.
 */
struct bt_namer *bt_namer_start(const struct kube_config *cfg, int verbosity, const char *ns);
/* The map, to be read between lock and unlock only. NULL namer: NULL. */
const struct kube_names *bt_namer_map(struct bt_namer *n);
void bt_namer_lock(struct bt_namer *n);
void bt_namer_unlock(struct bt_namer *n);

#endif
