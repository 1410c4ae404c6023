/* aio_read/aio_write on a bad fd (negative, closed, huge) are accepted (return
 * 0) and fail later: aio_error EBADF, aio_return -1. Also writing to a
 * read-only fd and reading from a write-only fd. */
#include "common.h"

int main(void)
{
	int closed = tmp_file("badfd");
	close(closed);
	int fds[] = { -1, closed, 1000000 };
	char buf[64];
	struct aiocb cb;
	for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		prep(&cb, fds[i], buf, sizeof buf, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
		EXPECT_FAILED(&cb, EBADF);
		prep(&cb, fds[i], buf, sizeof buf, 0, LIO_WRITE);
		EXPECT_OK(aio_write(&cb));
		EXPECT_FAILED(&cb, EBADF);
	}
	char path[PATH_MAX];
	int fd = tmp_file_flags("modes", path, 0);
	CHECK(fd >= 0);
	close(fd);
	int ro = open(path, O_RDONLY);
	int wo = open(path, O_WRONLY);
	CHECK(ro >= 0 && wo >= 0);
	unlink(path);
	prep(&cb, ro, buf, sizeof buf, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	EXPECT_FAILED(&cb, EBADF);
	prep(&cb, wo, buf, sizeof buf, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_FAILED(&cb, EBADF);
	printf("bad fd: accepted, then EBADF\n");
	return 0;
}
