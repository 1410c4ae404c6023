/* aio_suspend over a list of 500 entries: loop "suspend, then drop the
 * finished ones" until all 500 reads are done (each verified); and a list of
 * 500 where only the last entry ever completes. */
#include "common.h"

#define N 500
#define SZ 512

int main(void)
{
	int fd = tmp_file("suspmany");
	static char data[N * SZ], bufs[N][SZ];
	fill_pattern(data, sizeof data, 22, 0);
	must_pwrite(fd, data, sizeof data, 0);
	static struct aiocb cbs[N];
	static const struct aiocb *list[N];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, bufs[i], SZ, (off_t)(N - 1 - i) * SZ, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
		list[i] = &cbs[i];
	}
	int left = N, rounds = 0;
	long long deadline = now_ms() + WAIT_MS;
	while (left > 0) {
		struct timespec ts = { 1, 0 };
		int r = aio_suspend(list, N, &ts);
		if (r != 0 && errno != EAGAIN && errno != EINTR)
			FAIL("aio_suspend: %s", errname(errno));
		if (now_ms() > deadline)
			FAIL("%d of %d reads still pending", left, N);
		rounds++;
		for (int i = 0; i < N; i++) {
			if (list[i] && aio_error(list[i]) != EINPROGRESS) {
				list[i] = NULL;
				left--;
			}
		}
	}
	for (int i = 0; i < N; i++) {
		EXPECT_ERRNO(aio_error(&cbs[i]), 0);
		EXPECT_EQ(aio_return(&cbs[i]), SZ);
		EXPECT_PATTERN(bufs[i], SZ, 22, (long long)(N - 1 - i) * SZ);
	}
	printf("~ %d suspend rounds\n", rounds);

	/* 499 requests that never complete on their own (reads on empty pipes)
	 * and, last in the list, one that does. */
	int p[2];
	CHECK(pipe(p) == 0);
	static char pbuf[N][1];
	for (int i = 0; i < N - 1; i++) {
		prep(&cbs[i], p[0], pbuf[i], 1, 0, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
		list[i] = &cbs[i];
	}
	prep(&cbs[N - 1], fd, bufs[0], SZ, 0, LIO_READ);
	EXPECT_OK(aio_read(&cbs[N - 1]));
	list[N - 1] = &cbs[N - 1];
	int r;
	while ((r = aio_suspend(list, N, NULL)) != 0 && errno == EINTR)
		;
	EXPECT_EQ(r, 0);
	EXPECT_DONE(&cbs[N - 1], SZ);
	/* Release the pipe readers: one byte each, in order. */
	static char ones[N - 1];
	for (int i = 0; i < N - 1; i++)
		ones[i] = (char)i;
	must_write(p[1], ones, sizeof ones);
	for (int i = 0; i < N - 1; i++) {
		EXPECT_DONE(&cbs[i], 1);
		if (pbuf[i][0] != (char)i)
			FAIL("pipe read %d got byte %d", i, pbuf[i][0]);
	}
	printf("aio_suspend over %d entries ok\n", N);
	close(fd);
	return 0;
}
