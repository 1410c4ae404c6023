/* aio_writev / aio_readv on an O_DIRECT file with aligned iovecs: the iovecs
 * may name aligned buffers in any memory order and of different sizes; the
 * data lands and reads back in iovec order. On the default backend with
 * kernel AIO in use, both go to the kernel (paio_stats' `kernel` counter).
 * Skipped where the filesystem refuses O_DIRECT. */
#include "ext.h"

#define ALIGN 4096

int main(void)
{
	char path[PATH_MAX];
	int fd = tmp_file_flags("vec-odirect", path, O_DIRECT);
	if (fd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	unlink(path);
	unsigned char *mem, *rmem;
	CHECK(posix_memalign((void **)&mem, ALIGN, 8 * ALIGN) == 0);
	CHECK(posix_memalign((void **)&rmem, ALIGN, 8 * ALIGN) == 0);
	if (pwrite(fd, mem, ALIGN, 0) != ALIGN)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));

	/* File range [8 KiB, 40 KiB) = pattern 31, written from 4 iovecs of
	 * 1, 2, 4 and 1 blocks that take the blocks of mem out of order. */
	unsigned char *blk[8];
	for (int i = 0; i < 8; i++)
		blk[i] = mem + (size_t)i * ALIGN;
	struct iovec wv[4] = {
		{ blk[7], ALIGN },	   /* file block 2 */
		{ blk[0], 2 * ALIGN },	   /* file blocks 3-4 */
		{ blk[2], 4 * ALIGN },	   /* file blocks 5-8 */
		{ blk[6], ALIGN },	   /* file block 9 */
	};
	long long off = 2 * ALIGN;
	for (int i = 0; i < 4; i++) {
		fill_pattern(wv[i].iov_base, wv[i].iov_len, 31, off);
		off += (long long)wv[i].iov_len;
	}
	struct paio_stats before = stats_now();
	struct aiocb w;
	prepv(&w, fd, wv, 4, 2 * ALIGN, LIO_WRITE);
	EXPECT_OK(aio_writev(&w));
	EXPECT_DONE(&w, 8 * ALIGN);

	/* Read it back into 3 iovecs of 3, 1 and 4 blocks, in another order. */
	memset(rmem, 0, 8 * ALIGN);
	struct iovec rv[3] = {
		{ rmem + 5 * ALIGN, 3 * ALIGN },
		{ rmem + 4 * ALIGN, ALIGN },
		{ rmem, 4 * ALIGN },
	};
	struct aiocb r;
	prepv(&r, fd, rv, 3, 2 * ALIGN, LIO_READ);
	EXPECT_OK(aio_readv(&r));
	EXPECT_DONE(&r, 8 * ALIGN);
	struct paio_stats after = stats_now();
	EXPECT_PATTERN(rmem + 5 * ALIGN, 3 * ALIGN, 31, 2 * ALIGN);
	EXPECT_PATTERN(rmem + 4 * ALIGN, ALIGN, 31, 5 * ALIGN);
	EXPECT_PATTERN(rmem, 4 * ALIGN, 31, 6 * ALIGN);
	printf("O_DIRECT writev 4 iovecs, readv 3 iovecs: 32 KiB in iovec order\n");

	/* Short at end of file, still aligned. */
	prepv(&r, fd, rv, 3, 8 * ALIGN, LIO_READ);
	EXPECT_OK(aio_readv(&r));
	EXPECT_DONE(&r, 2 * ALIGN);
	EXPECT_PATTERN(rmem + 5 * ALIGN, 2 * ALIGN, 31, 8 * ALIGN);
	printf("O_DIRECT readv at EOF: 8 KiB of 32 KiB\n");

	unsigned long long kernel = after.kernel - before.kernel;
	printf("~kernel_aio=%u kernel requests +%llu pool +%llu inline +%llu\n",
	       after.kernel_aio, kernel,
	       (unsigned long long)(after.pool - before.pool),
	       (unsigned long long)(after.inline_completions - before.inline_completions));
	if (!backend_is_threads() && after.kernel_aio && kernel < 2)
		FAIL("kernel AIO in use but the O_DIRECT vectored requests did not "
		     "go to the kernel (kernel +%llu)", kernel);
	if (backend_is_threads() && kernel != 0)
		FAIL("PAIO_BACKEND=threads but kernel +%llu", kernel);
	free(mem);
	free(rmem);
	close(fd);
	return 0;
}
