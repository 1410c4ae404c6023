/* SIGEV_THREAD callbacks that wait for one another: each of 12 callbacks
 * waits until the next one has run. glibc gives every callback a thread of
 * its own, so the chain completes; a fixed pool of notifier threads would
 * hold the first callbacks asleep and never run the last ones. paio's
 * notifiers are a bounded group that grows past its bound when all its
 * threads stay busy while callbacks wait. */
#include "common.h"

#include <semaphore.h>

#define N 12

static sem_t ran[N];
static atomic_int late;

static void callback(union sigval v)
{
	int i = v.sival_int;
	if (i < N - 1) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WAIT_MS / 1000;
		if (sem_timedwait(&ran[i + 1], &ts) != 0)
			atomic_fetch_add(&late, 1);
	}
	sem_post(&ran[i]);
}

int main(void)
{
	int fd = tmp_file("dependent");
	must_pwrite(fd, "abcd", 4, 0);
	static char bufs[N][4];
	static struct aiocb cbs[N];
	for (int i = 0; i < N; i++)
		CHECK(sem_init(&ran[i], 0, 0) == 0);
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, bufs[i], 4, 0, LIO_READ);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cbs[i].aio_sigevent.sigev_notify_function = callback;
		cbs[i].aio_sigevent.sigev_value.sival_int = i;
		EXPECT_OK(aio_read(&cbs[i]));
		EXPECT_DONE(&cbs[i], 4);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2 * WAIT_MS / 1000;
	int done = sem_timedwait(&ran[0], &ts) == 0;
	printf("chain of %d callbacks, each waiting for the next: %s\n", N,
	       done ? "complete" : "stuck");
	printf("callbacks that gave up waiting: %d\n", atomic_load(&late));
	return 0;
}
