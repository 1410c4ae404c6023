/* aio_waitcomplete with a timeout while a request is in flight (a read on an
 * empty pipe) and nothing completes: -1/EAGAIN and *iocbp NULL after about
 * the timeout (200 ms; 1 s given as tv_sec; 1 ns), never early; the request
 * is returned once it completes. */
#include "ext.h"

static void expect_timeout(long sec, long nsec)
{
	struct timespec ts = { sec, nsec };
	long long want_ms = sec * 1000 + nsec / 1000000;
	struct aiocb *cb = (struct aiocb *)(uintptr_t)0x1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	ssize_t r = aio_waitcomplete(&cb, &ts);
	int e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
	if (r != -1 || e != EAGAIN || cb != NULL)
		FAIL("timeout {%ld, %ld}: %zd %s %p, expected -1 EAGAIN NULL",
		     sec, nsec, r, errname(e), (void *)cb);
	/* Not early (1 ms of slack for clock granularity), not far late. */
	if (us < want_ms * 1000 - 1000)
		FAIL("timeout {%ld, %ld} returned after %lld us", sec, nsec, us);
	if (us > want_ms * 1000 + 2000000)
		FAIL("timeout {%ld, %ld} returned after %lld us (> 2 s late)", sec, nsec, us);
	printf("timeout {%ld, %ld}: EAGAIN, *iocbp NULL, not early\n", sec, nsec);
	printf("~timeout {%ld, %ld}: %lld us\n", sec, nsec, us);
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	ENABLE_QUEUE();
	char c;
	struct aiocb r;
	prep(&r, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&r));

	expect_timeout(0, 200 * 1000000L);
	expect_timeout(1, 0);
	expect_timeout(0, 1);
	EXPECT_ERRNO(aio_error(&r), EINPROGRESS);

	must_write(p[1], "q", 1);
	struct aiocb *got;
	int err;
	EXPECT_EQ(reap(&got, &err), 1);
	CHECK(got == &r && c == 'q');
	EXPECT_NOTHING_WAITING();
	printf("the pipe read is returned once it completes\n");
	return 0;
}
