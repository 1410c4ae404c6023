/* A stream request in a direction its descriptor can never serve fails with
 * EBADF, as glibc's read()/write() says, instead of waiting for a readiness
 * that never comes: a write on a pipe's reading end and a read on its
 * writing end, each on a fresh number and on a number a buffered regular
 * file had just used for writes (so what paio learnt of the old file would
 * send it the slow way). */
#include "common.h"

static void expect_ebadf(const char *what, int fd, int opcode)
{
	static char buf[64];
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, opcode);
	EXPECT_OK(opcode == LIO_WRITE ? aio_write(&cb) : aio_read(&cb));
	int e = wait_done(&cb);
	if (e != EBADF)
		FAIL("%s: aio_error %s, expected EBADF", what, errname(e));
	EXPECT_EQ(aio_return(&cb), -1);
	printf("%s: EBADF\n", what);
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	expect_ebadf("write on a pipe's reading end", p[0], LIO_WRITE);
	expect_ebadf("read on a pipe's writing end", p[1], LIO_READ);
	close(p[0]);
	close(p[1]);

	/* A file written through AIO, then its number reused by a pipe. */
	int fd = tmp_file("direction");
	static char data[4096];
	memset(data, 'x', sizeof data);
	struct aiocb w;
	for (int i = 0; i < 4; i++) {
		prep(&w, fd, data, sizeof data, (off_t)i * sizeof data, LIO_WRITE);
		EXPECT_OK(aio_write(&w));
		EXPECT_DONE(&w, sizeof data);
	}
	CHECK(close(fd) == 0);
	CHECK(pipe(p) == 0);
	if (p[0] != fd)
		FAIL("pipe's reading end is %d, expected the file's number %d", p[0], fd);
	expect_ebadf("write on a reused number, now a pipe's reading end", p[0], LIO_WRITE);
	close(p[0]);
	close(p[1]);
	return 0;
}
