/* lio_listio(LIO_WAIT) where one entry fails (bad fd): -1/EIO once all are
 * done; the failing aiocb reports EBADF, the others succeeded with their data. */
#include "common.h"

#define N 6

int main(void)
{
	int fd = tmp_file("lioeio");
	static char bufs[N][1024];
	struct aiocb cbs[N];
	struct aiocb *list[N];
	for (int i = 0; i < N; i++) {
		fill_pattern(bufs[i], 1024, 20, (long long)i * 1024);
		prep(&cbs[i], i == 3 ? -1 : fd, bufs[i], 1024, (off_t)i * 1024, LIO_WRITE);
		list[i] = &cbs[i];
	}
	EXPECT_SYSERR(lio_listio(LIO_WAIT, list, N, NULL), EIO);
	for (int i = 0; i < N; i++) {
		if (i == 3) {
			EXPECT_ERRNO(aio_error(&cbs[i]), EBADF);
			EXPECT_EQ(aio_return(&cbs[i]), -1);
		} else {
			EXPECT_ERRNO(aio_error(&cbs[i]), 0);
			EXPECT_EQ(aio_return(&cbs[i]), 1024);
			char back[1024];
			must_pread(fd, back, sizeof back, (off_t)i * 1024);
			EXPECT_PATTERN(back, sizeof back, 20, (long long)i * 1024);
		}
	}
	printf("LIO_WAIT with a failing entry: -1/EIO, others fine\n");
	close(fd);
	return 0;
}
