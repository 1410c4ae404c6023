/* aio_return gives the transfer count (full, short, zero) and -1 for a failed
 * request; aio_error gives 0 or the error code. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("return");
	char data[100];
	fill_pattern(data, sizeof data, 6, 0);
	must_pwrite(fd, data, sizeof data, 0);

	char buf[300];
	struct aiocb full, part, none, bad;
	prep(&full, fd, buf, 40, 10, LIO_READ);
	prep(&part, fd, buf + 50, 200, 60, LIO_READ);
	prep(&none, fd, buf + 260, 10, 100, LIO_READ);
	prep(&bad, fd, buf, 10, -5, LIO_READ);
	EXPECT_OK(aio_read(&full));
	EXPECT_OK(aio_read(&part));
	EXPECT_OK(aio_read(&none));
	EXPECT_OK(aio_read(&bad));
	EXPECT_DONE(&full, 40);
	EXPECT_DONE(&part, 40);
	EXPECT_DONE(&none, 0);
	EXPECT_FAILED(&bad, EINVAL);
	printf("full=%zd part=%zd none=%zd bad=%zd/%s\n", aio_return(&full),
	       aio_return(&part), aio_return(&none), aio_return(&bad),
	       errname(aio_error(&bad)));
	struct aiocb w;
	prep(&w, fd, data, 33, 1000, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	EXPECT_DONE(&w, 33);
	printf("write=%zd\n", aio_return(&w));
	close(fd);
	return 0;
}
