/* aio_cancel on a bad fd: -1/EBADF, with and without an aiocb. */
#include "common.h"

int main(void)
{
	EXPECT_SYSERR(aio_cancel(-1, NULL), EBADF);
	int fd = tmp_file("cancelfd");
	close(fd);
	EXPECT_SYSERR(aio_cancel(fd, NULL), EBADF);
	struct aiocb cb;
	char buf[8];
	prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
	EXPECT_SYSERR(aio_cancel(fd, &cb), EBADF);
	printf("aio_cancel bad fd -> EBADF\n");
	return 0;
}
