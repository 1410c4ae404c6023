/* aio_fsync with an op other than O_SYNC or O_DSYNC: -1/EINVAL at once. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("fsyncop");
	struct aiocb cb;
	int ops[] = { 0, O_RDWR, O_APPEND, O_SYNC | O_APPEND, -1, 12345 };
	for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		prep(&cb, fd, NULL, 0, 0, LIO_NOP);
		EXPECT_SYSERR(aio_fsync(ops[i], &cb), EINVAL);
	}
	/* The valid ones still work afterwards. */
	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &cb));
	EXPECT_EQ(wait_done(&cb), 0);
	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_DSYNC, &cb));
	EXPECT_EQ(wait_done(&cb), 0);
	printf("aio_fsync bad op -> EINVAL\n");
	close(fd);
	return 0;
}
