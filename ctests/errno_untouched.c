/* A call that succeeds leaves errno as the caller set it, as glibc's do:
 * system calls paio makes on the way (a non-blocking attempt answered
 * EAGAIN or EOPNOTSUPP, an eventfd drained empty) must not show, least of
 * all to code a signal handler interrupted. Buffered and O_DIRECT files,
 * a pipe, a socket; aio_read/aio_write/aio_fsync, aio_error/aio_return,
 * aio_suspend, aio_cancel, lio_listio. A call that fails sets errno: an
 * aio_suspend that times out gives EAGAIN. */
#include "common.h"

#define T(call)                                                                \
	do {                                                                   \
		errno = 4242;                                                  \
		long r_ = (long)(call);                                        \
		if (errno != 4242)                                             \
			printf("%s returned %ld and changed errno to %s\n",     \
			       #call, r_, errname(errno));                     \
	} while (0)

static void rounds(const char *what, int fd, char *buf, size_t len)
{
	struct aiocb cb;
	const struct aiocb *l[1] = {&cb};
	prep(&cb, fd, buf, len, 0, LIO_WRITE);
	T(aio_write(&cb));
	T(aio_suspend(l, 1, NULL));
	T(aio_error(&cb));
	T(aio_return(&cb));
	prep(&cb, fd, buf, len, 0, LIO_READ);
	T(aio_read(&cb));
	T(aio_suspend(l, 1, NULL));
	T(aio_error(&cb));
	T(aio_return(&cb));
	prep(&cb, fd, buf, len, 0, LIO_WRITE);
	T(aio_fsync(O_SYNC, &cb));
	T(aio_suspend(l, 1, NULL));
	T(aio_error(&cb));
	T(aio_return(&cb));
	struct aiocb *ll[1] = {&cb};
	prep(&cb, fd, buf, len, 0, LIO_READ);
	T(lio_listio(LIO_WAIT, ll, 1, NULL));
	T(aio_return(&cb));
	printf("%s: checked\n", what);
}

int main(void)
{
	static char buf[8192] __attribute__((aligned(4096)));
	memset(buf, 'e', sizeof buf);
	char path[PATH_MAX];
	int f = tmp_file_flags("errno", path, 0);
	CHECK(f >= 0);
	rounds("buffered file", f, buf, 4096);
	int d = open(path, O_RDWR | O_DIRECT);
	if (d >= 0)
		rounds("O_DIRECT file", d, buf, 4096);
	else
		printf("O_DIRECT file: checked\n");

	/* A pipe: the read waits, is not cancelled (it runs), then is fed. */
	int p[2];
	CHECK(pipe(p) == 0);
	struct aiocb pc;
	const struct aiocb *pl[1] = {&pc};
	prep(&pc, p[0], buf, 1, 0, LIO_READ);
	T(aio_read(&pc));
	struct timespec ts = {0, 1000 * 1000};
	errno = 4242;
	int r = aio_suspend(pl, 1, &ts);
	printf("aio_suspend timing out: %d, %s\n", r, errname(errno));
	T(aio_cancel(p[0], &pc));
	must_write(p[1], "x", 1);
	T(aio_suspend(pl, 1, NULL));
	T(aio_error(&pc));
	T(aio_return(&pc));
	prep(&pc, p[1], buf, 10, 0, LIO_WRITE);
	T(aio_write(&pc));
	T(aio_suspend(pl, 1, NULL));
	T(aio_return(&pc));

	int s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	prep(&pc, s[0], buf, 10, 0, LIO_WRITE);
	T(aio_write(&pc));
	T(aio_suspend(pl, 1, NULL));
	T(aio_return(&pc));
	prep(&pc, s[1], buf, 10, 0, LIO_READ);
	T(aio_read(&pc));
	T(aio_suspend(pl, 1, NULL));
	T(aio_return(&pc));
	printf("pipe and socket: checked\n");

	unlink(path);
	return 0;
}
