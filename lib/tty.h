/* Raw terminal mode for interactive sessions, restored on every way out. */
#ifndef RETINA_LIB_TTY_H
#define RETINA_LIB_TTY_H

#include <signal.h>

/*
 * Put the terminal fd in raw mode, saving its settings. They come back with
 * tty_restore(), at exit(), and on SIGINT/SIGTERM/SIGHUP/SIGQUIT (the
 * handler restores, then the signal does what it would have done). -1 when
 * fd is not a terminal.
 */
int tty_raw(int fd);
void tty_restore(void);
/* The terminal's size; -1 when fd is not a terminal. */
int tty_size(int fd, unsigned *cols, unsigned *rows);
/* Count SIGWINCH in *flag (sig_atomic_t), without SA_RESTART so poll() wakes up. */
void tty_watch_resize(volatile sig_atomic_t *flag);

#endif
