/* aio_waitcomplete alongside aio_error / aio_return: requests the program
 * already reaped with aio_return still come out of aio_waitcomplete exactly
 * once, with their own result, even when the aiocb was reused for a new
 * request in between (it comes out once per request, in completion order);
 * requests nobody looked at, and failed ones, come out too. */
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

	ssize_t x_results[2];
	int nx = 0, ny = 0, nz = 0;
	for (int n = 0; n < 4; n++) {
		struct aiocb *got;
		int err;
		ssize_t r = reap(&got, &err);
		if (got == &x) {
			if (nx >= 2)
				FAIL("x returned a third time");
			x_results[nx++] = r;
		} else if (got == &y) {
			ny++;
			if (r != 10)
				FAIL("y: %zd (%s), expected 10", r, errname(err));
		} else if (got == &z) {
			nz++;
			if (r != -1 || err != EBADF)
				FAIL("z: %zd %s, expected -1 EBADF", r, errname(err));
		} else {
			FAIL("unknown aiocb %p", (void *)got);
		}
	}
	EXPECT_NOTHING_WAITING();
	if (nx != 2 || ny != 1 || nz != 1)
		FAIL("x %d y %d z %d times, expected 2 1 1", nx, ny, nz);
	if (x_results[0] != 100 || x_results[1] != 200)
		FAIL("x gave %zd then %zd, expected 100 then 200", x_results[0], x_results[1]);
	printf("reused aiocb: 100 then 200; unwatched write: 10; failed read: EBADF; each once\n");
	/* y was not reaped yet: aio_error / aio_return still work on it. */
	EXPECT_DONE(&y, 10);
	printf("aio_return after aio_waitcomplete: 10\n");
	close(fd);
	return 0;
}
