/*
 * The multicall entry: pick the applet by the basename of argv[0] (a link
 * named "ping" runs ping), else by the first argument ("retina ping ...").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets/applets.h"
#include "lib/retina.h"
#include "version.h"

static const struct applet applets[] = {
#define APPLET(id, name, summary) { name, id##_main, id##_help, summary },
#include "applets/applets.def"
#undef APPLET
};

static const char retina_help[] =
	"usage: retina APPLET [ARGS...]   (or run a link named after the applet)\n"
	"       retina --list | --version | --install [-s] DIR | --help\n"
	"\n"
	"Debug Kubernetes node networking: one static binary, many tools.\n"
	"\n"
	"  --list             print the applets, one per line\n"
	"  --install [-s] DIR create a link per applet in DIR (-s: symbolic links)\n"
	"  --version          print the version and the libraries built in\n"
	"\n"
	"Examples:\n"
	"  retina capcheck                   what this shell can do, what it lacks\n"
	"  retina capcheck --help            an applet's own help\n"
	"  retina --install -s /usr/local/bin\n"
	"\n"
	"Applets:\n";

static void print_usage(FILE *out)
{
	fputs(retina_help, out);
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++)
		fprintf(out, "  %-16s %s\n", applets[i].name, applets[i].summary);
}

static const struct applet *find_applet(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++)
		if (!strcmp(applets[i].name, name))
			return &applets[i];
	return NULL;
}

static const char *applet_list(void)
{
	static char buf[1024];
	size_t used = 0;

	for (size_t i = 0; i < ARRAY_SIZE(applets) && used < sizeof(buf); i++)
		used += snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? ", " : "", applets[i].name);
	return buf;
}

/* busybox --install: a link per applet, hard by default, -s for symbolic. */
static int install_links(int argc, char **argv)
{
	bool symbolic = false;
	const char *dir;
	char self[PATH_MAX];
	int failed = 0;

	applet_name = "retina --install";
	if (argc > 0 && !strcmp(argv[0], "-s")) {
		symbolic = true;
		argc--, argv++;
	}
	if (argc != 1)
		usage_error("needs one directory: retina --install [-s] DIR");
	dir = argv[0];

	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die(EXIT_FAIL, "cannot find this binary via /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';

	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		die(EXIT_FAIL, "'%s' is not a directory; create it first", dir);

	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		char link_path[PATH_MAX];

		snprintf(link_path, sizeof(link_path), "%s/%s", dir, applets[i].name);
		if (!strcmp(link_path, self))
			continue;
		unlink(link_path);
		/* A relative symlink keeps a directory of links relocatable. */
		const char *target = self;
		char dir_real[PATH_MAX], self_dir[PATH_MAX];
		if (symbolic && realpath(dir, dir_real)) {
			snprintf(self_dir, sizeof(self_dir), "%s", self);
			char *slash = strrchr(self_dir, '/');
			if (slash) {
				*slash = '\0';
				if (!strcmp(self_dir, dir_real))
					target = slash + 1;
			}
		}
		if ((symbolic ? symlink(target, link_path) : link(self, link_path)) < 0) {
			warnx("cannot create %s: %s", link_path, strerror(errno));
			failed = 1;
			continue;
		}
		printf("%s -> %s\n", link_path, target);
	}
	return failed ? EXIT_FAIL : EXIT_OK;
}

static int run_applet(const struct applet *a, int argc, char **argv, bool by_link)
{
	static char name[64];

	snprintf(name, sizeof(name), "%s%s", strncmp(a->name, "kubectl", 7) ? "retina " : "", a->name);
	applet_name = name;
	/* -h/--help as the only argument is handled here, uniformly (for
	 * kubectl's completer, run by its link name, it is a word to complete;
	 * an empty help is built by the applet from its flag table: trace). */
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) && a->help[0] &&
	    !(by_link && a->main == kubectl_complete_retina_main))
		show_help(a->help);
	return a->main(argc, argv);
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const struct applet *a;

	base = base ? base + 1 : argv[0];
	a = find_applet(base);
	if (a)
		return run_applet(a, argc, argv, true);

	/* Not a link name: this is `retina ...` (whatever the file is called). */
	if (argc < 2) {
		print_usage(stdout);
		return EXIT_OK;
	}
	const char *arg = argv[1];
	if (!strcmp(arg, "--list")) {
		for (size_t i = 0; i < ARRAY_SIZE(applets); i++)
			puts(applets[i].name);
		return EXIT_OK;
	}
	if (!strcmp(arg, "--version") || !strcmp(arg, "-V")) {
		printf("retina %s\nbuilt with: musl, %s\n", RETINA_VERSION, RETINA_DEPS);
		return EXIT_OK;
	}
	if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
		print_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(arg, "--install"))
		return install_links(argc - 2, argv + 2);
	if (arg[0] == '-')
		usage_error("unknown option '%s'", arg);
	a = find_applet(arg);
	if (!a)
		die(EXIT_USAGE, "unknown applet '%s'; applets are: %s", arg, applet_list());
	return run_applet(a, argc - 1, argv + 1, false);
}
