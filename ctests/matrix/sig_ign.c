/* matrix: once */
/* Notifications with a signal the program ignores (SIG_IGN), or whose
 * default action is to ignore it (SIGCHLD, SIGURG): requests complete, the
 * process lives on and nothing stays pending. */
#include "matrix.h"

static void notified(const char *what, int fd, int sig)
{
	static char buf[1024];
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = sig;
	CHECK(aio_write(&cb) == 0);
	printf("%s: %s\n", what, finish(&cb, what));
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	int fd = tmp_file("ign");
	signal(SIGUSR1, SIG_IGN);
	signal(SIGRTMIN + 3, SIG_IGN);
	notified("SIGUSR1 ignored", fd, SIGUSR1);
	notified("SIGRTMIN+3 ignored", fd, SIGRTMIN + 3);
	notified("SIGCHLD default", fd, SIGCHLD);
	notified("SIGURG default", fd, SIGURG);
	struct aiocb a, *list[1] = { &a };
	static char buf[64];
	prep(&a, fd, buf, sizeof buf, 0, LIO_READ);
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	printf("lio_listio WAIT with an ignored list signal: %d\n", lio_listio(LIO_WAIT, list, 1, &sev));
	printf("  entry: %s\n", finish(&a, "a"));
	sleep_ms(50);
	sigset_t pending;
	CHECK(sigpending(&pending) == 0);
	int n = 0;
	for (int s = 1; s < SIGRTMAX; s++)
		n += sigismember(&pending, s) == 1;
	printf("pending signals: %d\n", n);
	close(fd);
	return 0;
}
