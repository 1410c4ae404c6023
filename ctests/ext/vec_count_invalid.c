/* aio_readv / aio_writev with an iovec count of 0 or above IOV_MAX (1025,
 * and a huge one) fail synchronously with -1/EINVAL, as does a NULL aiocb;
 * nothing is queued for them (aio_waitcomplete has nothing). 1024 iovecs are
 * accepted and read 1024 bytes. */
#include "ext.h"

int main(void)
{
	int fd = tmp_file("vec-count");
	static unsigned char data[2048];
	fill_pattern(data, sizeof data, 61, 0);
	must_pwrite(fd, data, sizeof data, 0);
	ENABLE_QUEUE();

	static unsigned char bytes[1025];
	static struct iovec iov[1025];
	for (int i = 0; i < 1025; i++)
		iov[i] = (struct iovec){ &bytes[i], 1 };
	static const size_t bad[] = { 0, 1025, (size_t)1 << 40, SIZE_MAX };
	struct aiocb cb;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		prepv(&cb, fd, iov, bad[i], 0, LIO_READ);
		EXPECT_SYSERR(aio_readv(&cb), EINVAL);
		prepv(&cb, fd, iov, bad[i], 0, LIO_WRITE);
		EXPECT_SYSERR(aio_writev(&cb), EINVAL);
	}
	printf("iovcnt 0, 1025, 2^40, SIZE_MAX: -1/EINVAL for readv and writev\n");
	EXPECT_SYSERR(aio_readv(hidden_null()), EINVAL);
	EXPECT_SYSERR(aio_writev(hidden_null()), EINVAL);
	printf("NULL aiocb: -1/EINVAL\n");
	EXPECT_NOTHING_WAITING();
	printf("refused requests are not queued for aio_waitcomplete\n");

	prepv(&cb, fd, iov, 1024, 100, LIO_READ);
	EXPECT_OK(aio_readv(&cb));
	/* aio_error, not aio_return: a request aio_return took is not
	 * returned by aio_waitcomplete. */
	EXPECT_ERRNO(wait_done(&cb), 0);
	EXPECT_PATTERN(bytes, 1024, 61, 100);
	struct aiocb *got;
	int err;
	EXPECT_EQ(reap(&got, &err), 1024);
	CHECK(got == &cb);
	EXPECT_EQ(aio_return(&cb), 1024);
	printf("iovcnt 1024: 1024 bytes\n");

	/* 1024 one-byte iovecs written, then read back with a plain read. */
	for (int i = 0; i < 1024; i++)
		bytes[i] = (unsigned char)(i * 7);
	prepv(&cb, fd, iov, 1024, 0, LIO_WRITE);
	EXPECT_OK(aio_writev(&cb));
	EXPECT_ERRNO(wait_done(&cb), 0);
	EXPECT_EQ(reap(&got, &err), 1024);
	EXPECT_EQ(aio_return(&cb), 1024);
	unsigned char back[1024];
	must_pread(fd, back, sizeof back, 0);
	for (int i = 0; i < 1024; i++)
		if (back[i] != (unsigned char)(i * 7))
			FAIL("byte %d is %u", i, back[i]);
	printf("writev iovcnt 1024: 1024 bytes\n");
	EXPECT_NOTHING_WAITING();
	close(fd);
	return 0;
}
