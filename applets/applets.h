#ifndef RETINA_APPLETS_H
#define RETINA_APPLETS_H

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *help;
	const char *summary;
};

#define APPLET(id, name, summary) \
	int id##_main(int argc, char **argv); \
	extern const char id##_help[];
#include "applets/applets.def"
#undef APPLET

#endif
