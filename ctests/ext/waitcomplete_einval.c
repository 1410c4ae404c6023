/* aio_waitcomplete's own errors: a NULL iocbp, and a timeout with tv_nsec
 * outside [0, 1e9) or a negative tv_sec, give -1/EINVAL at once (a NULL
 * iocbp with a NULL timeout does not block) and *iocbp NULL; they do so even
 * while a completion waits, and leave it for the next valid call. */
#include "ext.h"

static void bad_args(const char *when)
{
	const struct timespec bad[] = {
		{ 0, 1000000000L }, { 0, -1 }, { -1, 0 }, { 1, 2000000000L },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct aiocb *cb = (struct aiocb *)(uintptr_t)0x1;
		errno = 0;
		ssize_t r = aio_waitcomplete(&cb, &bad[i]);
		int e = errno;
		if (r != -1 || e != EINVAL || cb != NULL)
			FAIL("%s: timeout {%ld, %ld}: %zd %s %p, expected -1 EINVAL NULL",
			     when, (long)bad[i].tv_sec, bad[i].tv_nsec, r, errname(e),
			     (void *)cb);
	}
	long long t0 = now_ms();
	EXPECT_SYSERR(aio_waitcomplete(hidden_null(), NULL), EINVAL);
	EXPECT_SYSERR(aio_waitcomplete(hidden_null(), &ZERO_TIMEOUT), EINVAL);
	struct timespec sec = { 1, 0 };
	EXPECT_SYSERR(aio_waitcomplete(hidden_null(), &sec), EINVAL);
	if (now_ms() - t0 > 500)
		FAIL("%s: the EINVAL calls took %lld ms", when, now_ms() - t0);
	printf("%s: bad timeouts and NULL iocbp -> -1/EINVAL\n", when);
}

int main(void)
{
	bad_args("nothing waiting");
	EXPECT_NOTHING_WAITING();

	int fd = tmp_file("wc-einval");
	must_pwrite(fd, "abc", 3, 0);
	char buf[3];
	struct aiocb cb;
	prep(&cb, fd, buf, 3, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	/* aio_error may say done a moment before the completion is queued;
	 * the completion descriptor is readable once it is. */
	CHECK(wait_done(&cb) == 0);
	if (!readable(paio_completion_fd(), WAIT_MS))
		FAIL("the completion descriptor never became readable");
	bad_args("a completion waiting");
	struct aiocb *got;
	int err;
	EXPECT_EQ(reap(&got, &err), 3);
	CHECK(got == &cb);
	EXPECT_NOTHING_WAITING();
	printf("the waiting completion is still returned once\n");
	close(fd);
	return 0;
}
