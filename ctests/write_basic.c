/* aio_write: writes at several offsets land exactly there (checked with pread),
 * aio_return gives the byte count, the file grows to the highest end. */
#include "common.h"

#define CHUNK 4096
#define N 8

int main(void)
{
	int fd = tmp_file("write");
	static unsigned char bufs[N][CHUNK];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		int chunk = (i * 5) % N; /* scattered order */
		fill_pattern(bufs[i], CHUNK, 2, (long long)chunk * CHUNK);
		prep(&cbs[i], fd, bufs[i], CHUNK, (off_t)chunk * CHUNK, LIO_WRITE);
		EXPECT_OK(aio_write(&cbs[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], CHUNK);
	EXPECT_EQ(file_size(fd), N * CHUNK);
	static unsigned char back[N * CHUNK];
	must_pread(fd, back, sizeof back, 0);
	EXPECT_PATTERN(back, sizeof back, 2, 0);

	/* A zero-length write succeeds with 0 and leaves the file alone. */
	struct aiocb z;
	prep(&z, fd, bufs[0], 0, 1 << 20, LIO_WRITE);
	EXPECT_OK(aio_write(&z));
	EXPECT_DONE(&z, 0);
	EXPECT_EQ(file_size(fd), N * CHUNK);

	printf("wrote %d requests ok\n", N);
	close(fd);
	return 0;
}
