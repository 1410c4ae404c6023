/* aio_suspend with a relative timeout and nothing completing: -1/EAGAIN after
 * (not before) the timeout; a zero timeout polls: -1/EAGAIN at once, and so
 * does a negative one (a loop's "deadline minus now" once the deadline has
 * passed), as on glibc. */
#include "common.h"

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	char a[8];
	struct aiocb pending;
	prep(&pending, p[0], a, sizeof a, 0, LIO_READ);
	EXPECT_OK(aio_read(&pending));
	const struct aiocb *list[1] = { &pending };

	struct timespec ts = { 0, 100 * 1000000L };
	long long t0 = now_ms();
	EXPECT_SYSERR(aio_suspend(list, 1, &ts), EAGAIN);
	long long took = now_ms() - t0;
	/* Relative timeout: it must not return early (a 10 ms slack for clock
	 * granularity); the upper bound is the watchdog, not a timing check. */
	if (took < 90)
		FAIL("aio_suspend timed out after %lld ms, asked 100", took);
	printf("~ 100 ms timeout took %lld ms\n", took);

	struct timespec zero = { 0, 0 };
	EXPECT_SYSERR(aio_suspend(list, 1, &zero), EAGAIN);
	struct timespec past = { -1, 999 * 1000000L }, long_past = { -5, 0 }, ns = { 0, -1 };
	EXPECT_SYSERR(aio_suspend(list, 1, &past), EAGAIN);
	EXPECT_SYSERR(aio_suspend(list, 1, &long_past), EAGAIN);
	EXPECT_SYSERR(aio_suspend(list, 1, &ns), EAGAIN);

	EXPECT_ERRNO(aio_error(&pending), EINPROGRESS);
	must_write(p[1], "k", 1);
	EXPECT_DONE(&pending, 1);
	printf("aio_suspend timeout, zero and negative -> EAGAIN\n");
	return 0;
}
