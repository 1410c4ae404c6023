/* aio_cancel on a completed request: AIO_ALLDONE and its result is untouched;
 * aio_cancel(fd, NULL) with nothing outstanding on fd: AIO_ALLDONE. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("canceldone");
	char buf[100];
	fill_pattern(buf, sizeof buf, 17, 0);
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	EXPECT_DONE(&cb, sizeof buf);
	EXPECT_EQ(aio_cancel(fd, &cb), AIO_ALLDONE);
	EXPECT_ERRNO(aio_error(&cb), 0);
	EXPECT_EQ(aio_return(&cb), sizeof buf);
	EXPECT_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);
	/* A fresh fd that never saw AIO. */
	int other = tmp_file("canceldone2");
	EXPECT_EQ(aio_cancel(other, NULL), AIO_ALLDONE);
	printf("completed: AIO_ALLDONE\n");
	close(fd);
	close(other);
	return 0;
}
