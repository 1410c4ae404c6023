/* aio_fsync is a barrier: after 64 aio_writes on a file, an aio_fsync
 * submitted behind them completes only once all 64 have completed (checked
 * from its SIGEV_THREAD callback and by polling at the moment it is seen
 * done), and the data is in the file. Both O_SYNC and O_DSYNC. */
#include "common.h"

#define N 64
#define SZ (64 << 10)

static struct aiocb writes[N];
static atomic_int cb_ran, cb_pending;

static void on_fsync(union sigval v)
{
	(void)v;
	int pending = 0;
	for (int i = 0; i < N; i++)
		if (aio_error(&writes[i]) == EINPROGRESS)
			pending++;
	atomic_store(&cb_pending, pending);
	atomic_store(&cb_ran, 1);
}

static void round_(int op, unsigned seed)
{
	int fd = tmp_file("barrier");
	static unsigned char bufs[N][SZ];
	for (int i = 0; i < N; i++) {
		fill_pattern(bufs[i], SZ, seed, (long long)i * SZ);
		prep(&writes[i], fd, bufs[i], SZ, (off_t)i * SZ, LIO_WRITE);
		EXPECT_OK(aio_write(&writes[i]));
	}
	struct aiocb s;
	prep(&s, fd, NULL, 0, 0, LIO_NOP);
	s.aio_sigevent.sigev_notify = SIGEV_THREAD;
	s.aio_sigevent.sigev_notify_function = on_fsync;
	atomic_store(&cb_ran, 0);
	atomic_store(&cb_pending, -1);
	EXPECT_OK(aio_fsync(op, &s));

	long long deadline = now_ms() + WAIT_MS;
	while (aio_error(&s) == EINPROGRESS) {
		if (now_ms() > deadline)
			FAIL("fsync still in progress");
	}
	int pending = 0;
	for (int i = 0; i < N; i++)
		if (aio_error(&writes[i]) == EINPROGRESS)
			pending++;
	if (pending)
		FAIL("fsync done while %d of %d writes were still in progress", pending, N);
	EXPECT_ERRNO(aio_error(&s), 0);
	EXPECT_EQ(aio_return(&s), 0);
	wait_flag(&cb_ran, 1);
	EXPECT_EQ(atomic_load(&cb_pending), 0);
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&writes[i], SZ);
	static unsigned char back[SZ];
	for (int i = 0; i < N; i++) {
		must_pread(fd, back, SZ, (off_t)i * SZ);
		EXPECT_PATTERN(back, SZ, seed, (long long)i * SZ);
	}
	close(fd);
}

int main(void)
{
	round_(O_SYNC, 23);
	round_(O_DSYNC, 24);
	printf("aio_fsync waited for %d earlier writes (O_SYNC, O_DSYNC)\n", N);
	return 0;
}
