/* A write to /dev/full fails with ENOSPC through aio_error. */
#include "common.h"

int main(void)
{
	int fd = open("/dev/full", O_WRONLY);
	if (fd < 0)
		skip("/dev/full: %s", strerror(errno));
	char buf[512] = { 1 };
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	EXPECT_FAILED(&cb, ENOSPC);
	/* Reading /dev/full gives zeros. */
	int rfd = open("/dev/full", O_RDONLY);
	CHECK(rfd >= 0);
	memset(buf, 0xff, sizeof buf);
	prep(&cb, rfd, buf, sizeof buf, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		EXPECT_EQ(buf[i], 0);
	printf("/dev/full write -> ENOSPC\n");
	return 0;
}
