/* Reads across end of file return only the bytes that exist (a short read is a
 * success), reads at or after EOF return 0. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("eof");
	char data[1000];
	fill_pattern(data, sizeof data, 13, 0);
	must_pwrite(fd, data, sizeof data, 0);

	static char a[4096], b[4096], c[4096], d[4096];
	struct aiocb ca, cb_, cc, cd;
	prep(&ca, fd, a, sizeof a, 0, LIO_READ);
	prep(&cb_, fd, b, sizeof b, 900, LIO_READ);
	prep(&cc, fd, c, sizeof c, 1000, LIO_READ);
	prep(&cd, fd, d, sizeof d, 5000, LIO_READ);
	EXPECT_OK(aio_read(&ca));
	EXPECT_OK(aio_read(&cb_));
	EXPECT_OK(aio_read(&cc));
	EXPECT_OK(aio_read(&cd));
	EXPECT_DONE(&ca, 1000);
	EXPECT_DONE(&cb_, 100);
	EXPECT_DONE(&cc, 0);
	EXPECT_DONE(&cd, 0);
	EXPECT_PATTERN(a, 1000, 13, 0);
	EXPECT_PATTERN(b, 100, 13, 900);
	printf("short read at EOF: 1000 100 0 0\n");
	close(fd);
	return 0;
}
