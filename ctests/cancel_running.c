/* aio_cancel on a request that is running (a read blocked on an empty pipe,
 * the only request there): AIO_NOTCANCELED, it stays EINPROGRESS and then
 * completes normally with the data. */
#include "common.h"

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	char buf[8];
	struct aiocb cb;
	prep(&cb, p[0], buf, sizeof buf, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	let_worker_start();
	EXPECT_EQ(aio_cancel(p[0], &cb), AIO_NOTCANCELED);
	EXPECT_ERRNO(aio_error(&cb), EINPROGRESS);
	EXPECT_EQ(aio_cancel(p[0], NULL), AIO_NOTCANCELED);
	EXPECT_ERRNO(aio_error(&cb), EINPROGRESS);
	must_write(p[1], "xyz", 3);
	EXPECT_DONE(&cb, 3);
	CHECK(memcmp(buf, "xyz", 3) == 0);
	printf("running request: AIO_NOTCANCELED, then completed\n");
	return 0;
}
