/* Subcommands of the kubectl plugin (applets/kubectl_retina.c dispatches). */
#ifndef RETINA_APPLETS_KUBECTL_RETINA_H
#define RETINA_APPLETS_KUBECTL_RETINA_H

extern const char kubectl_shell_help[];
/* argv[0] is "shell". */
int kubectl_shell_main(int argc, char **argv);

extern const char kubectl_cleanup_help[];
int kubectl_cleanup_main(int argc, char **argv);

extern const char kubectl_bpftrace_help[];
int kubectl_bpftrace_main(int argc, char **argv);

#endif
