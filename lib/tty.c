/* Raw terminal mode (see tty.h). */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "lib/tty.h"

static struct termios saved;
static int saved_fd = -1;
static volatile sig_atomic_t *resize_flag;
static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

void tty_restore(void)
{
	if (saved_fd >= 0) {
		tcsetattr(saved_fd, TCSAFLUSH, &saved);	/* async-signal-safe */
		saved_fd = -1;
	}
}

static void on_fatal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int tty_raw(int fd)
{
	static bool registered;
	struct termios t;

	if (tcgetattr(fd, &saved))
		return -1;
	t = saved;
	cfmakeraw(&t);
	saved_fd = fd;
	if (!registered) {
		atexit(tty_restore);
		registered = true;
	}
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa = { .sa_handler = on_fatal };
		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
	if (tcsetattr(fd, TCSAFLUSH, &t)) {
		saved_fd = -1;
		return -1;
	}
	return 0;
}

int tty_size(int fd, unsigned *cols, unsigned *rows)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws))
		return -1;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return 0;
}

static void on_winch(int sig)
{
	(void)sig;
	if (resize_flag)
		(*resize_flag)++;
}

void tty_watch_resize(volatile sig_atomic_t *flag)
{
	struct sigaction sa = { .sa_handler = on_winch };	/* no SA_RESTART: poll() returns EINTR */

	resize_flag = flag;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
}
