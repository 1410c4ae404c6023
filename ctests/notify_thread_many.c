/* SIGEV_THREAD for 2000 completions: every callback runs exactly once. Under
 * paio the notification threads are a bounded pool: the process never has 64
 * or more threads. glibc starts a thread per completion; its peak is only
 * printed as information. */
#include "common.h"

#define N 2000
#define LIMIT 64

static atomic_int count, peak;
static atomic_int seen[N];

static void note_peak(void)
{
	int t = count_tasks();
	int p = atomic_load(&peak);
	while (t > p && !atomic_compare_exchange_weak(&peak, &p, t))
		;
}

static void callback(union sigval v)
{
	int i = v.sival_int;
	if (i < 0 || i >= N) {
		fprintf(stderr, "bad sival_int %d\n", i);
		_exit(1);
	}
	atomic_fetch_add(&seen[i], 1);
	if (i % 16 == 0)
		note_peak();
	atomic_fetch_add(&count, 1);
}

int main(void)
{
	int fd = tmp_file("many");
	static char buf[64];
	static struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, buf, sizeof buf, (off_t)(i % 64) * 64, LIO_WRITE);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cbs[i].aio_sigevent.sigev_notify_function = callback;
		cbs[i].aio_sigevent.sigev_value.sival_int = i;
		int r;
		while ((r = aio_write(&cbs[i])) != 0 && errno == EAGAIN)
			sleep_ms(1);
		EXPECT_EQ(r, 0);
		if (i % 64 == 0)
			note_peak();
	}
	wait_flag(&count, N);
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], sizeof buf);
	for (int i = 0; i < N; i++)
		if (atomic_load(&seen[i]) != 1)
			FAIL("callback %d ran %d times", i, atomic_load(&seen[i]));
	printf("SIGEV_THREAD: %d callbacks, each once\n", N);
	printf("~ %s: peak threads %d\n", impl_name(), atomic_load(&peak));
	if (is_paio() && atomic_load(&peak) >= LIMIT)
		FAIL("paio peaked at %d threads for SIGEV_THREAD (limit %d)",
		     atomic_load(&peak), LIMIT);
	close(fd);
	return 0;
}
