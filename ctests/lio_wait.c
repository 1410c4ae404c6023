/* lio_listio(LIO_WAIT): returns 0 only once every request in the list is done;
 * reads and writes mixed, each aiocb then reports its own result. */
#include "common.h"

#define N 16
#define CHUNK 8192

int main(void)
{
	int fd = tmp_file("liowait");
	static unsigned char src[N][CHUNK], dst[N][CHUNK];
	static unsigned char pre[N * CHUNK];
	fill_pattern(pre, sizeof pre, 4, 0);
	must_pwrite(fd, pre, sizeof pre, 0);

	struct aiocb cbs[N];
	struct aiocb *list[N];
	for (int i = 0; i < N; i++) {
		if (i % 2 == 0) {
			/* write to the second half of the file */
			fill_pattern(src[i], CHUNK, 5, (long long)(N + i) * CHUNK);
			prep(&cbs[i], fd, src[i], CHUNK, (off_t)(N + i) * CHUNK, LIO_WRITE);
		} else {
			prep(&cbs[i], fd, dst[i], CHUNK, (off_t)i * CHUNK, LIO_READ);
		}
		list[i] = &cbs[i];
	}
	EXPECT_OK(lio_listio(LIO_WAIT, list, N, NULL));
	for (int i = 0; i < N; i++) {
		/* No waiting: everything is finished when LIO_WAIT returns. */
		EXPECT_ERRNO(aio_error(&cbs[i]), 0);
		EXPECT_EQ(aio_return(&cbs[i]), CHUNK);
		if (i % 2 == 1)
			EXPECT_PATTERN(dst[i], CHUNK, 4, (long long)i * CHUNK);
	}
	static unsigned char back[CHUNK];
	for (int i = 0; i < N; i += 2) {
		must_pread(fd, back, CHUNK, (off_t)(N + i) * CHUNK);
		EXPECT_PATTERN(back, CHUNK, 5, (long long)(N + i) * CHUNK);
	}
	/* An empty list waits for nothing. */
	EXPECT_OK(lio_listio(LIO_WAIT, list, 0, NULL));
	printf("lio_listio LIO_WAIT %d ok\n", N);
	close(fd);
	return 0;
}
