#define _GNU_SOURCE	/* posix_openpt, ptsname */
/* lib/tty: raw mode on a real pseudo-terminal, restored by tty_restore, exit() and fatal signals. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/tty.h"

static int master = -1, slave = -1;

static int open_pty(void **state)
{
	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master))
		return -1;
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	struct winsize ws = { .ws_row = 40, .ws_col = 100 };
	ioctl(slave, TIOCSWINSZ, &ws);
	return slave < 0 ? -1 : 0;
}

static int close_pty(void **state)
{
	(void)state;
	close(slave);
	close(master);
	return 0;
}

static bool canonical(void)
{
	struct termios t;
	assert_int_equal(tcgetattr(slave, &t), 0);
	return t.c_lflag & ICANON;
}

static void raw_and_back(void **state)
{
	unsigned w, h;
	(void)state;

	assert_true(canonical());
	assert_int_equal(tty_raw(slave), 0);
	assert_false(canonical());
	tty_restore();
	assert_true(canonical());
	assert_int_equal(tty_size(slave, &w, &h), 0);
	assert_int_equal(w, 100);
	assert_int_equal(h, 40);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tty_raw(p[0]), -1);	/* not a terminal */
	close(p[0]);
	close(p[1]);
}

/* In a child: raw mode, then leave by exit() or by a signal; the terminal must come back. */
static void leave_by(int how)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (tty_raw(slave))
			_exit(3);
		if (how == 0)
			exit(0);
		raise(how);
		_exit(4);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (how == 0)
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	else
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == how);	/* the signal still does its job */
	assert_true(canonical());
}

static void restored_on_every_way_out(void **state)
{
	(void)state;
	leave_by(0);
	leave_by(SIGTERM);
	leave_by(SIGINT);
	leave_by(SIGHUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raw_and_back),
		cmocka_unit_test(restored_on_every_way_out),
	};
	return cmocka_run_group_tests(tests, open_pty, close_pty);
}
