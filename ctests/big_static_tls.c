/* A program with a large static TLS block (here 250 KiB of __thread data, just below the stack paio asks for its I/O workers):
 * the C library carves it from every new thread's stack, paio's threads
 * included, so the stack sizes paio asks for its threads (tens or hundreds
 * of KiB, for its own frames) must come on top of it. Reads served by the
 * worker pool, signals sent by paio's signal thread, SIGEV_THREAD
 * callbacks, pipe reads waiting for data: all complete. */
#include "common.h"

#define TLS_BYTES (250 * 1024)
#define N 40

static __thread char big[TLS_BYTES];
static atomic_int signals, callbacks;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals, 1);
}

static void on_callback(union sigval v)
{
	big[v.sival_int] = 1; /* the callback's thread has the block too */
	atomic_fetch_add(&callbacks, 1);
}

int main(void)
{
	big[0] = 1;
	install_handler(SIGRTMIN, on_signal);
	int fd = tmp_file("tls");
	must_pwrite(fd, "0123456789", 10, 0);
	static char bufs[3 * N][10];
	static struct aiocb cbs[3 * N];
	static struct aiocb pr;
	char c;
	for (int i = 0; i < 3 * N; i++) {
		prep(&cbs[i], fd, bufs[i], 10, 0, LIO_READ);
		if (i >= N && i < 2 * N) {
			cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
			cbs[i].aio_sigevent.sigev_signo = SIGRTMIN;
		} else if (i >= 2 * N) {
			cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
			cbs[i].aio_sigevent.sigev_notify_function = on_callback;
			cbs[i].aio_sigevent.sigev_value.sival_int = i;
		}
		EXPECT_OK(aio_read(&cbs[i]));
	}
	int p[2];
	CHECK(pipe(p) == 0);
	prep(&pr, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&pr));
	sleep_ms(20);
	must_write(p[1], "x", 1);
	EXPECT_DONE(&pr, 1);
	for (int i = 0; i < 3 * N; i++)
		EXPECT_DONE(&cbs[i], 10);
	long long t0 = now_ms();
	while ((atomic_load(&signals) < N || atomic_load(&callbacks) < N) &&
	       now_ms() - t0 < WAIT_MS)
		sleep_ms(5);
	printf("reads: %d, signals: %d, callbacks: %d\n", 3 * N,
	       atomic_load(&signals), atomic_load(&callbacks));
	return 0;
}
