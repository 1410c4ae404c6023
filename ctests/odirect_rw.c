/* O_DIRECT aligned writes and reads (4 KiB aligned buffers, offsets, sizes)
 * through AIO; skipped where the filesystem refuses O_DIRECT. */
#include "common.h"

#define ALIGN 4096
#define N 16

int main(void)
{
	char path[PATH_MAX];
	int fd = tmp_file_flags("odirect", path, O_DIRECT);
	if (fd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	unlink(path);
	unsigned char *wbuf, *rbuf;
	CHECK(posix_memalign((void **)&wbuf, ALIGN, N * ALIGN) == 0);
	CHECK(posix_memalign((void **)&rbuf, ALIGN, N * ALIGN) == 0);
	fill_pattern(wbuf, N * ALIGN, 14, 0);
	memset(rbuf, 0, N * ALIGN);

	/* Probe: does a direct write work here at all? */
	if (pwrite(fd, wbuf, ALIGN, 0) != ALIGN)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));

	struct aiocb w[N], r[N];
	for (int i = 0; i < N; i++) {
		prep(&w[i], fd, wbuf + (size_t)i * ALIGN, ALIGN, (off_t)i * ALIGN, LIO_WRITE);
		EXPECT_OK(aio_write(&w[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&w[i], ALIGN);
	for (int i = 0; i < N; i++) {
		prep(&r[i], fd, rbuf + (size_t)i * ALIGN, ALIGN, (off_t)i * ALIGN, LIO_READ);
		EXPECT_OK(aio_read(&r[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&r[i], ALIGN);
	EXPECT_PATTERN(rbuf, N * ALIGN, 14, 0);

	/* One large request, and a short one at EOF. */
	struct aiocb big;
	memset(rbuf, 0, N * ALIGN);
	prep(&big, fd, rbuf, N * ALIGN, 0, LIO_READ);
	EXPECT_OK(aio_read(&big));
	EXPECT_DONE(&big, N * ALIGN);
	EXPECT_PATTERN(rbuf, N * ALIGN, 14, 0);
	prep(&big, fd, rbuf, 2 * ALIGN, (off_t)(N - 1) * ALIGN, LIO_READ);
	EXPECT_OK(aio_read(&big));
	EXPECT_DONE(&big, ALIGN);

	/* A misaligned buffer fails with EINVAL through aio_error. */
	struct aiocb mis;
	prep(&mis, fd, rbuf + 1, ALIGN, 0, LIO_READ);
	EXPECT_OK(aio_read(&mis));
	EXPECT_FAILED(&mis, EINVAL);
	printf("O_DIRECT %d writes, %d reads ok; misaligned -> EINVAL\n", N, N);
	free(wbuf);
	free(rbuf);
	close(fd);
	return 0;
}
