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
	one_write_read_back("child ", fd, data, back, sizeof data, 9);
	int p[2];
	char buf[8] = { 0 };
	struct aiocb rd;
	pipe_read_pending(p, &rd, buf, 3);
	must_write(p[1], "own", 3);
	printf("child pipe read: %s \"%s\"\n", finish(&rd, "child pipe"), buf);
}

#include "fork_inflight.c"
