/* aio_suspend returns 0 at once (no timeout given) when any listed request is
 * already complete, even if the others never will be. */
#include "common.h"

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int fd = tmp_file("suspdone");
	char a[8], b[32];
	struct aiocb pending, done;
	prep(&pending, p[0], a, sizeof a, 0, LIO_READ);
	EXPECT_OK(aio_read(&pending));
	prep(&done, fd, b, sizeof b, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&done));
	EXPECT_DONE(&done, sizeof b);

	const struct aiocb *list[2] = { &pending, &done };
	long long t0 = now_ms();
	EXPECT_OK(aio_suspend(list, 2, NULL));
	const struct aiocb *rev[2] = { &done, &pending };
	EXPECT_OK(aio_suspend(rev, 2, NULL));
	struct timespec zero = { 0, 0 };
	EXPECT_OK(aio_suspend(list, 2, &zero));
	printf("~ three calls took %lld ms\n", now_ms() - t0);
	EXPECT_ERRNO(aio_error(&pending), EINPROGRESS);
	must_write(p[1], "k", 1);
	EXPECT_DONE(&pending, 1);
	printf("aio_suspend returned at once for a completed request\n");
	close(fd);
	return 0;
}
