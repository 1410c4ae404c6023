/* lio_listio with LIO_WRITEV / LIO_READV entries mixed with LIO_WRITE,
 * LIO_READ and LIO_NOP: with LIO_WAIT the call returns 0 once every entry is
 * done, each entry's aio_return is its own total, and the data is where each
 * entry put it; with LIO_NOWAIT the entries complete on their own. */
#include "ext.h"

int main(void)
{
	int fd = tmp_file("lio-vec");
	static unsigned char src[3][8192];
	for (int i = 0; i < 3; i++)
		fill_pattern(src[i], sizeof src[i], 51, (long long)i * 8192);

	/* Writes: [0, 8K) vectored (3 iovecs), [8K, 16K) plain, [16K, 24K)
	 * vectored (2 iovecs), a NOP in the middle. */
	struct iovec w0[3] = { { src[0], 100 }, { src[0] + 100, 4000 }, { src[0] + 4100, 4092 } };
	struct iovec w2[2] = { { src[2], 8000 }, { src[2] + 8000, 192 } };
	struct aiocb wv0, wplain, wnop, wv2;
	prepv(&wv0, fd, w0, 3, 0, LIO_WRITEV);
	prep(&wplain, fd, src[1], 8192, 8192, LIO_WRITE);
	prep(&wnop, fd, NULL, 0, 0, LIO_NOP);
	prepv(&wv2, fd, w2, 2, 16384, LIO_WRITEV);
	struct aiocb *wl[4] = { &wv0, &wplain, &wnop, &wv2 };
	EXPECT_OK(lio_listio(LIO_WAIT, wl, 4, NULL));
	EXPECT_ERRNO(aio_error(&wv0), 0);
	EXPECT_EQ(aio_return(&wv0), 8192);
	EXPECT_ERRNO(aio_error(&wplain), 0);
	EXPECT_EQ(aio_return(&wplain), 8192);
	EXPECT_ERRNO(aio_error(&wv2), 0);
	EXPECT_EQ(aio_return(&wv2), 8192);
	static unsigned char file[3 * 8192];
	must_pread(fd, file, sizeof file, 0);
	EXPECT_PATTERN(file, sizeof file, 51, 0);
	printf("lio_listio(LIO_WAIT) WRITEV+WRITE+NOP+WRITEV: 0, 3 x 8192\n");

	/* Reads: vectored over [4K, 12K) in 2 iovecs, plain [12K, 16K),
	 * vectored with one iovec over [20K, 24K). */
	static unsigned char r0a[1000], r0b[7192], r1[4096], r2[4096];
	struct iovec rv0[2] = { { r0a, sizeof r0a }, { r0b, sizeof r0b } };
	struct iovec rv2[1] = { { r2, sizeof r2 } };
	struct aiocb rva, rplain, rvb;
	prepv(&rva, fd, rv0, 2, 4096, LIO_READV);
	prep(&rplain, fd, r1, 4096, 12288, LIO_READ);
	prepv(&rvb, fd, rv2, 1, 20480, LIO_READV);
	struct aiocb *rl[4] = { &rva, NULL, &rplain, &rvb };
	EXPECT_OK(lio_listio(LIO_WAIT, rl, 4, NULL));
	EXPECT_ERRNO(aio_error(&rva), 0);
	EXPECT_EQ(aio_return(&rva), 8192);
	EXPECT_ERRNO(aio_error(&rplain), 0);
	EXPECT_EQ(aio_return(&rplain), 4096);
	EXPECT_ERRNO(aio_error(&rvb), 0);
	EXPECT_EQ(aio_return(&rvb), 4096);
	EXPECT_PATTERN(r0a, sizeof r0a, 51, 4096);
	EXPECT_PATTERN(r0b, sizeof r0b, 51, 5096);
	EXPECT_PATTERN(r1, sizeof r1, 51, 12288);
	EXPECT_PATTERN(r2, sizeof r2, 51, 20480);
	printf("lio_listio(LIO_WAIT) READV+NULL+READ+READV: 0, 8192/4096/4096\n");

	/* LIO_NOWAIT: overwrite [0, 8K) from 2 iovecs (pattern 52) and read
	 * [16K, 24K) with a vectored and a plain entry. */
	static unsigned char n0[8192], n1[4096], n2[4096];
	fill_pattern(n0, sizeof n0, 52, 0);
	struct iovec nw[2] = { { n0 + 4096, 4096 }, { n0, 4096 } };
	struct iovec nr[1] = { { n1, 4096 } };
	struct aiocb a, b, c;
	prepv(&a, fd, nw, 2, 0, LIO_WRITEV);
	prepv(&b, fd, nr, 1, 16384, LIO_READV);
	prep(&c, fd, n2, 4096, 20480, LIO_READ);
	struct aiocb *nl[3] = { &a, &b, &c };
	EXPECT_OK(lio_listio(LIO_NOWAIT, nl, 3, NULL));
	EXPECT_DONE(&a, 8192);
	EXPECT_DONE(&b, 4096);
	EXPECT_DONE(&c, 4096);
	EXPECT_PATTERN(n1, 4096, 51, 16384);
	EXPECT_PATTERN(n2, 4096, 51, 20480);
	must_pread(fd, file, 8192, 0);
	EXPECT_PATTERN(file, 4096, 52, 4096);
	EXPECT_PATTERN(file + 4096, 4096, 52, 0);
	printf("lio_listio(LIO_NOWAIT) WRITEV+READV+READ: done\n");
	close(fd);
	return 0;
}
