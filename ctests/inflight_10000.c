/* 10,000 requests in flight at once on one file: 10,000 writes submitted
 * before any is waited for, then 10,000 reads, all verified. No submission
 * may fail (EAGAIN included: glibc accepts them all). */
#include "common.h"

#define N 10000
#define SZ 512

int main(void)
{
	int fd = tmp_file("inflight");
	static char src[N * SZ], dst[N * SZ];
	fill_pattern(src, sizeof src, 28, 0);
	static struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		/* interleaved offsets so neighbours are not adjacent requests */
		int slot = (int)(((long long)i * 7919) % N);
		prep(&cbs[i], fd, src + (size_t)slot * SZ, SZ, (off_t)slot * SZ, LIO_WRITE);
		errno = 0;
		if (aio_write(&cbs[i]) != 0)
			FAIL("aio_write #%d: %s", i, errname(errno));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], SZ);
	EXPECT_EQ(file_size(fd), (off_t)N * SZ);
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, dst + (size_t)i * SZ, SZ, (off_t)i * SZ, LIO_READ);
		errno = 0;
		if (aio_read(&cbs[i]) != 0)
			FAIL("aio_read #%d: %s", i, errname(errno));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], SZ);
	EXPECT_PATTERN(dst, sizeof dst, 28, 0);
	printf("%d writes and %d reads in flight at once, verified\n", N, N);
	close(fd);
	return 0;
}
