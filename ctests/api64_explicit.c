/* The *64 entry points called by name with struct aiocb64, at offsets beyond
 * 4 GiB (a sparse file): aio_write64, aio_read64, aio_fsync64, lio_listio64,
 * aio_error64, aio_return64, aio_suspend64, aio_cancel64. */
#include "common.h"

#define BIG ((off64_t)5 << 30)

static void wait64(struct aiocb64 *cb)
{
	long long deadline = now_ms() + WAIT_MS;
	while (aio_error64(cb) == EINPROGRESS) {
		if (now_ms() > deadline)
			FAIL("aiocb64 still in progress");
		const struct aiocb64 *l[1] = { cb };
		struct timespec ts = { 0, 20000000 };
		aio_suspend64(l, 1, &ts);
	}
}

int main(void)
{
	char path[PATH_MAX];
	int fd = tmp_file_flags("api64", path, O_LARGEFILE);
	CHECK(fd >= 0);
	unlink(path);
	if (ftruncate64(fd, BIG + 8192) != 0)
		skip("cannot create a sparse file over 4 GiB: %s", strerror(errno));

	static char src[4096], dst[4096];
	fill_pattern(src, sizeof src, 8, BIG);
	struct aiocb64 w;
	memset(&w, 0, sizeof w);
	w.aio_fildes = fd;
	w.aio_buf = src;
	w.aio_nbytes = sizeof src;
	w.aio_offset = BIG;
	EXPECT_OK(aio_write64(&w));
	wait64(&w);
	EXPECT_ERRNO(aio_error64(&w), 0);
	EXPECT_EQ(aio_return64(&w), sizeof src);

	struct aiocb64 s;
	memset(&s, 0, sizeof s);
	s.aio_fildes = fd;
	EXPECT_OK(aio_fsync64(O_SYNC, &s));
	wait64(&s);
	EXPECT_ERRNO(aio_error64(&s), 0);

	struct aiocb64 r;
	memset(&r, 0, sizeof r);
	r.aio_fildes = fd;
	r.aio_buf = dst;
	r.aio_nbytes = sizeof dst;
	r.aio_offset = BIG;
	EXPECT_OK(aio_read64(&r));
	wait64(&r);
	EXPECT_EQ(aio_return64(&r), sizeof dst);
	EXPECT_PATTERN(dst, sizeof dst, 8, BIG);

	/* lio_listio64: a read and a write beyond 4 GiB. */
	static char src2[512], dst2[512];
	fill_pattern(src2, sizeof src2, 9, BIG + 4096);
	struct aiocb64 a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	a.aio_fildes = b.aio_fildes = fd;
	a.aio_lio_opcode = LIO_WRITE;
	a.aio_buf = src2;
	a.aio_nbytes = sizeof src2;
	a.aio_offset = BIG + 4096;
	b.aio_lio_opcode = LIO_READ;
	b.aio_buf = dst2;
	b.aio_nbytes = sizeof dst2;
	b.aio_offset = BIG + 100;
	struct aiocb64 *list[2] = { &a, &b };
	EXPECT_OK(lio_listio64(LIO_WAIT, list, 2, NULL));
	EXPECT_EQ(aio_return64(&a), sizeof src2);
	EXPECT_EQ(aio_return64(&b), sizeof dst2);
	EXPECT_PATTERN(dst2, sizeof dst2, 8, BIG + 100);
	must_pread(fd, dst2, sizeof dst2, BIG + 4096);
	EXPECT_PATTERN(dst2, sizeof dst2, 9, BIG + 4096);

	/* aio_cancel64 on a finished request. */
	EXPECT_EQ(aio_cancel64(fd, &r), AIO_ALLDONE);
	printf("*64 functions beyond 4 GiB ok\n");
	close(fd);
	return 0;
}
