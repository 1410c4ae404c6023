/* A thread with a pthread_cancel pending makes AIO calls: glibc's are no
 * cancellation points (aio_suspend is one only where it would sleep), so
 * the thread goes on until it reaches one of its own. paio must not be
 * unwound inside its calls either (it calls the kernel directly where the C
 * library's wrappers are cancellation points), least of all while it
 * starts: here the first AIO call of the process is the cancelled thread's.
 * Buffered and O_DIRECT writes, reads and fsyncs, a pipe whose reader is
 * gone (EPIPE), a socket, a pipe with data, each polled with aio_error and
 * passed to aio_suspend once done. Then the other threads' AIO works. */
#include "common.h"

#include <sched.h>

static volatile int stage;

static void poll_done(struct aiocb *cb)
{
	/* No cancellation point while waiting: spin on aio_error. */
	while (aio_error(cb) == EINPROGRESS)
		sched_yield();
}

static void *body(void *arg)
{
	int *fds = arg;
	static char buf[8192] __attribute__((aligned(4096)));
	memset(buf, 'c', sizeof buf);
	CHECK(pthread_cancel(pthread_self()) == 0);
	for (int k = 0; k < 5; k++) {
		size_t n = k < 2 ? 4096 : 10;
		struct aiocb cb;
		const struct aiocb *l[1] = {&cb};
		if (fds[k] < 0)
			continue;
		prep(&cb, fds[k], buf, n, 0, LIO_WRITE);
		if (k != 4 && aio_write(&cb) == 0) {
			poll_done(&cb);
			aio_suspend(l, 1, NULL); /* done: returns at once */
			aio_return(&cb);
		}
		prep(&cb, fds[k], buf, n, 0, LIO_READ);
		if (k != 2 && k != 3 && aio_read(&cb) == 0) {
			poll_done(&cb);
			aio_suspend(l, 1, NULL);
			aio_return(&cb);
		}
		if (k < 2 && aio_fsync(O_SYNC, &cb) == 0) {
			poll_done(&cb);
			aio_return(&cb);
		}
		stage = k + 1;
	}
	stage = 100;
	pthread_testcancel();
	stage = 999;
	return NULL;
}

int main(void)
{
	char path[PATH_MAX];
	int fds[5];
	fds[0] = tmp_file_flags("cancel-pending", path, 0);
	CHECK(fds[0] >= 0);
	fds[1] = open(path, O_RDWR | O_DIRECT); /* -1 where O_DIRECT is refused */
	int p[2], s[2], q[2];
	CHECK(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 && pipe(q) == 0);
	close(p[0]);
	fds[2] = p[1];
	fds[3] = s[0];
	must_write(q[1], "0123456789", 10);
	fds[4] = q[0];

	pthread_t t;
	CHECK(pthread_create(&t, NULL, body, fds) == 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	void *res = NULL;
	int r = pthread_timedjoin_np(t, &res, &ts);
	if (r != 0)
		FAIL("the cancelled thread did not end: stage %d", stage);
	printf("cancelled at its own cancellation point: %s\n",
	       res == PTHREAD_CANCELED && stage == 100 ? "yes" : "no");

	/* The engine it started serves everyone. */
	static char buf[4096] __attribute__((aligned(4096)));
	struct aiocb cb;
	prep(&cb, fds[0], buf, 4096, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, 4096);
	printf("AIO afterwards: works\n");
	unlink(path);
	return 0;
}
