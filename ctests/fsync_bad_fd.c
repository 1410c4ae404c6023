/* aio_fsync on a bad fd (negative, closed) is refused synchronously: -1/EBADF. */
#include "common.h"

int main(void)
{
	struct aiocb cb;
	prep(&cb, -1, NULL, 0, 0, LIO_NOP);
	EXPECT_SYSERR(aio_fsync(O_SYNC, &cb), EBADF);
	int fd = tmp_file("fsyncfd");
	close(fd);
	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_SYSERR(aio_fsync(O_SYNC, &cb), EBADF);
	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_SYSERR(aio_fsync(O_DSYNC, &cb), EBADF);
	prep(&cb, 100000, NULL, 0, 0, LIO_NOP);
	EXPECT_SYSERR(aio_fsync(O_DSYNC, &cb), EBADF);
	printf("aio_fsync bad fd -> EBADF\n");
	return 0;
}
