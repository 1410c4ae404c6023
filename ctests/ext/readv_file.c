/* aio_readv on a regular file (buffered): the bytes at aio_offset are
 * scattered over the iovecs in order (odd lengths, an empty iovec included)
 * and aio_return gives the total; at end of file the read is short, fills the
 * first iovecs only and leaves the rest untouched; past the end it gives 0. */
#include "ext.h"

#define FILE_LEN 10000

int main(void)
{
	int fd = tmp_file("readv");
	static unsigned char data[FILE_LEN];
	fill_pattern(data, sizeof data, 21, 0);
	must_pwrite(fd, data, sizeof data, 0);

	/* 3 + 0 + 4093 + 5000 = 9096 bytes from offset 100. */
	static unsigned char a[3], b[1], c[4093], d[5000];
	struct iovec iov[4] = {
		{ a, sizeof a }, { b, 0 }, { c, sizeof c }, { d, sizeof d },
	};
	b[0] = 0xEE;
	struct aiocb cb;
	prepv(&cb, fd, iov, 4, 100, LIO_READ);
	EXPECT_OK(aio_readv(&cb));
	EXPECT_DONE(&cb, 9096);
	EXPECT_PATTERN(a, sizeof a, 21, 100);
	EXPECT_EQ(b[0], 0xEE);
	EXPECT_PATTERN(c, sizeof c, 21, 103);
	EXPECT_PATTERN(d, sizeof d, 21, 103 + 4093);
	printf("readv 4 iovecs: 9096 bytes scattered in order\n");

	/* Short at EOF: 1000 bytes left for 500 + 700 + 300 asked. */
	static unsigned char e[500], f[700], g[300];
	memset(f, 0xEE, sizeof f);
	memset(g, 0xEE, sizeof g);
	struct iovec tail[3] = { { e, sizeof e }, { f, sizeof f }, { g, sizeof g } };
	prepv(&cb, fd, tail, 3, FILE_LEN - 1000, LIO_READ);
	EXPECT_OK(aio_readv(&cb));
	EXPECT_DONE(&cb, 1000);
	EXPECT_PATTERN(e, sizeof e, 21, FILE_LEN - 1000);
	EXPECT_PATTERN(f, 500, 21, FILE_LEN - 500);
	for (size_t i = 500; i < sizeof f; i++)
		if (f[i] != 0xEE)
			FAIL("f[%zu] written past end of file", i);
	for (size_t i = 0; i < sizeof g; i++)
		if (g[i] != 0xEE)
			FAIL("g[%zu] written past end of file", i);
	printf("readv at EOF: short (1000 of 1500), later iovecs untouched\n");

	prepv(&cb, fd, tail, 3, 2 * FILE_LEN, LIO_READ);
	EXPECT_OK(aio_readv(&cb));
	EXPECT_DONE(&cb, 0);
	printf("readv past EOF: 0\n");

	/* Many concurrent vectored reads, each its own pair of iovecs. */
	enum { N = 32 };
	static unsigned char lo[N][100], hi[N][200];
	struct iovec pairs[N][2];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		pairs[i][0] = (struct iovec){ lo[i], sizeof lo[i] };
		pairs[i][1] = (struct iovec){ hi[i], sizeof hi[i] };
		prepv(&cbs[i], fd, pairs[i], 2, (off_t)i * 300, LIO_READ);
		EXPECT_OK(aio_readv(&cbs[i]));
	}
	for (int i = 0; i < N; i++) {
		EXPECT_DONE(&cbs[i], 300);
		EXPECT_PATTERN(lo[i], 100, 21, i * 300);
		EXPECT_PATTERN(hi[i], 200, 21, i * 300 + 100);
	}
	printf("%d concurrent readv ok\n", N);
	close(fd);
	return 0;
}
