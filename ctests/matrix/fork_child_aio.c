/* matrix: once */
/* A child forked while the parent has requests in flight (a read waiting
 * on a pipe, a large write) uses AIO itself: its requests run and complete,
 * and the parent's complete in the parent. glibc's child inherits the
 * parent's AIO bookkeeping (helper threads that do not exist there), so its
 * requests may never run: an intentional difference (see the README). */
#include "matrix.h"

#define FORK_CHILD_USES_AIO
static void child_work(int wfd)
{
	must_write(wfd, "kid", 3);
	int fd = tmp_file("child");
	static char data[8192], back[8192];
	fill_pattern(data, sizeof data, 9, 0);
	one("child write", LIO_WRITE, fd, data, sizeof data, 0);
	one("child read", LIO_READ, fd, back, sizeof back, 0);
	printf("child data: %s\n", memcmp(data, back, sizeof data) == 0 ? "ok" : "WRONG");
	int p[2];
	CHECK(pipe(p) == 0);
	char buf[8] = { 0 };
	struct aiocb rd;
	prep(&rd, p[0], buf, 3, 0, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	must_write(p[1], "own", 3);
	printf("child pipe read: %s \"%s\"\n", finish(&rd, "child pipe"), buf);
}

#include "fork_inflight.c"
