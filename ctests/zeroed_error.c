/* A zeroed aiocb that was never submitted: aio_error returns 0 (glibc does and
 * applications rely on it), aio_return returns 0, aio_cancel says AIO_ALLDONE. */
#include "common.h"

int main(void)
{
	struct aiocb cb;
	memset(&cb, 0, sizeof cb);
	EXPECT_ERRNO(aio_error(&cb), 0);
	EXPECT_EQ(aio_return(&cb), 0);
	int fd = tmp_file("zeroed");
	cb.aio_fildes = fd;
	EXPECT_EQ(aio_cancel(fd, &cb), AIO_ALLDONE);
	EXPECT_ERRNO(aio_error(&cb), 0);
	/* suspending on it returns at once: it is not in progress. */
	const struct aiocb *list[1] = { &cb };
	struct timespec ts = { 5, 0 };
	long long t0 = now_ms();
	int r = aio_suspend(list, 1, &ts);
	printf("aio_suspend on a never-submitted aiocb: %d %s\n", r,
	       r ? errname(errno) : "");
	printf("~ took %lld ms\n", now_ms() - t0);
	printf("zeroed aiocb: aio_error 0, aio_return 0\n");
	close(fd);
	return 0;
}
