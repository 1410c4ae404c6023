/* aio_init before any request (aio_threads=2, aio_num=32, aio_idle_time=1):
 * requests still complete; under paio the pool stays within aio_threads. */
#include "common.h"

#define N 64

int main(void)
{
	struct aioinit init;
	memset(&init, 0, sizeof init);
	init.aio_threads = 2;
	init.aio_num = 32;
	init.aio_idle_time = 1;
	int before = count_tasks();
	aio_init(&init);
	/* Lazy start: aio_init itself creates no thread. */
	EXPECT_EQ(count_tasks(), before);

	int fd = tmp_file("init");
	static char bufs[N][512];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		fill_pattern(bufs[i], 512, 7, (long long)i * 512);
		prep(&cbs[i], fd, bufs[i], 512, (off_t)i * 512, LIO_WRITE);
		EXPECT_OK(aio_write(&cbs[i]));
	}
	int peak = count_tasks();
	for (int i = 0; i < N; i++) {
		EXPECT_DONE(&cbs[i], 512);
		int t = count_tasks();
		if (t > peak)
			peak = t;
	}
	static char back[N * 512];
	must_pread(fd, back, sizeof back, 0);
	EXPECT_PATTERN(back, sizeof back, 7, 0);
	/* Reads of one file may run in parallel: aio_threads caps how many
	 * threads serve them (the writes above share one descriptor's lane). */
	static char rbuf[N][512];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, rbuf[i], 512, (off_t)i * 512, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
	}
	for (int i = 0; i < N; i++) {
		int t = count_tasks();
		if (t > peak)
			peak = t;
		EXPECT_DONE(&cbs[i], 512);
	}
	for (int i = 0; i < N; i++)
		EXPECT_PATTERN(rbuf[i], 512, 7, (long long)i * 512);
	printf("aio_init then %d writes and %d reads ok\n", N, N);
	printf("~ %s: threads before %d, peak %d\n", impl_name(), before, peak);
	/* paio honours aio_threads: at most 2 I/O workers (and, where a request
	 * needed the kernel, its 2 reapers). */
	if (is_paio() && peak - before > 4)
		FAIL("aio_threads = 2 but %d threads were running", peak - before);
	/* A second aio_init is harmless. */
	aio_init(&init);
	close(fd);
	return 0;
}
