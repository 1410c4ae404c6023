/* aio_waitcomplete alongside aio_error / aio_return: a request is handed to
 * the program once (FreeBSD's rule). Requests the program already reaped
 * with aio_return never come out of aio_waitcomplete, even when the aiocb
 * was reused for a new request that was reaped too, nor do failed ones
 * reaped that way; a request nobody reaped comes out exactly once, and
 * aio_return on it afterwards gives its value again. */
#include "ext.h"

int main(void)
{
	ENABLE_QUEUE();
	int fd = tmp_file("wc-mix");
	static char data[4096], buf[300];
	fill_pattern(data, sizeof data, 91, 0);
	must_pwrite(fd, data, sizeof data, 0);

	/* x: read 100, reaped by aio_return, then reused for a read of 200. */
	struct aiocb x, y, z;
	prep(&x, fd, buf, 100, 0, LIO_READ);
	EXPECT_OK(aio_read(&x));
	EXPECT_DONE(&x, 100);
	prep(&x, fd, buf, 200, 1000, LIO_READ);
	EXPECT_OK(aio_read(&x));
	EXPECT_DONE(&x, 200);
	EXPECT_PATTERN(buf, 200, 91, 1000);
	/* y: a write nobody waits for with aio_error. */
	prep(&y, fd, data, 10, 4096, LIO_WRITE);
	EXPECT_OK(aio_write(&y));
	/* z: a failure, reaped by aio_return. */
	prep(&z, -1, buf, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&z));
	EXPECT_FAILED(&z, EBADF);

	struct aiocb *got;
	int err;
	ssize_t r = reap(&got, &err);
	if (got == &x)
		FAIL("x came out of aio_waitcomplete (%zd) although aio_return took "
		     "both its requests", r);
	if (got == &z)
		FAIL("z came out of aio_waitcomplete (%zd %s) although aio_return "
		     "took it", r, errname(err));
	if (got != &y)
		FAIL("unknown aiocb %p", (void *)got);
	if (r != 10)
		FAIL("y: %zd (%s), expected 10", r, errname(err));
	sleep_ms(20);
	EXPECT_NOTHING_WAITING();
	printf("reused aiocb reaped twice and failed read reaped: not returned; "
	       "unwatched write: 10, once\n");
	/* y was returned by aio_waitcomplete: aio_return gives its value again. */
	EXPECT_DONE(&y, 10);
	printf("aio_return after aio_waitcomplete: 10\n");
	close(fd);
	return 0;
}
