/* aio_readv / aio_writev on a pipe: a vectored read waits on the empty pipe
 * (EINPROGRESS) and, once a vectored write of 16 bytes (atomic on a pipe)
 * arrives, scatters exactly those bytes over its iovecs; after the writer
 * closes, a vectored read returns 0. */
#include "ext.h"

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	char r1[4], r2[4], r3[8];
	struct iovec rv[3] = { { r1, 4 }, { r2, 4 }, { r3, 8 } };
	struct aiocb r;
	prepv(&r, p[0], rv, 3, 0, LIO_READ);
	EXPECT_OK(aio_readv(&r));
	let_worker_start();
	EXPECT_ERRNO(aio_error(&r), EINPROGRESS);
	printf("readv on an empty pipe: EINPROGRESS\n");

	char w1[] = "abcdef", w2[] = "ghij", w3[] = "klmnop";
	struct iovec wv[3] = { { w1, 6 }, { w2, 4 }, { w3, 6 } };
	struct aiocb w;
	prepv(&w, p[1], wv, 3, 0, LIO_WRITE);
	EXPECT_OK(aio_writev(&w));
	EXPECT_DONE(&w, 16);
	EXPECT_DONE(&r, 16);
	if (memcmp(r1, "abcd", 4) || memcmp(r2, "efgh", 4) || memcmp(r3, "ijklmnop", 8))
		FAIL("readv got %.4s|%.4s|%.8s", r1, r2, r3);
	printf("writev 6+4+6 -> readv 4+4+8: abcd|efgh|ijklmnop\n");

	close(p[1]);
	prepv(&r, p[0], rv, 3, 0, LIO_READ);
	EXPECT_OK(aio_readv(&r));
	EXPECT_DONE(&r, 0);
	printf("readv after the writer closed: 0\n");
	close(p[0]);
	return 0;
}
