/* aio_cancel(fd, aiocb) where aiocb->aio_fildes != fd: -1/EINVAL, and the
 * request (still running) is not affected. */
#include "common.h"

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int other = tmp_file("mismatch");
	char buf[8];
	struct aiocb cb;
	prep(&cb, p[0], buf, sizeof buf, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_SYSERR(aio_cancel(other, &cb), EINVAL);
	EXPECT_ERRNO(aio_error(&cb), EINPROGRESS);
	/* Also for a request never submitted. */
	struct aiocb idle;
	prep(&idle, p[1], buf, sizeof buf, 0, LIO_WRITE);
	EXPECT_SYSERR(aio_cancel(other, &idle), EINVAL);
	must_write(p[1], "abc", 3);
	EXPECT_DONE(&cb, 3);
	printf("aio_cancel fd mismatch -> EINVAL\n");
	return 0;
}
