/* aio_read: reads at several offsets of a regular file return exactly the bytes
 * there, aio_error goes to 0 and aio_return gives the byte count. */
#include "common.h"

#define CHUNK 4096
#define N 8

int main(void)
{
	int fd = tmp_file("read");
	static unsigned char data[N * CHUNK];
	fill_pattern(data, sizeof data, 1, 0);
	must_pwrite(fd, data, sizeof data, 0);

	static unsigned char bufs[N][CHUNK];
	struct aiocb cbs[N];
	/* Submit in reverse offset order, odd sizes included. */
	for (int i = 0; i < N; i++) {
		int chunk = N - 1 - i;
		size_t len = CHUNK - (size_t)i * 3;
		prep(&cbs[i], fd, bufs[i], len, (off_t)chunk * CHUNK + i, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
	}
	for (int i = 0; i < N; i++) {
		int chunk = N - 1 - i;
		size_t len = CHUNK - (size_t)i * 3;
		EXPECT_DONE(&cbs[i], len);
		EXPECT_PATTERN(bufs[i], len, 1, (long long)chunk * CHUNK + i);
		/* aio_error/aio_return are stable once done. */
		EXPECT_ERRNO(aio_error(&cbs[i]), 0);
	}
	printf("read %d requests ok\n", N);
	close(fd);
	return 0;
}
