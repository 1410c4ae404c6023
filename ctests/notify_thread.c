/* SIGEV_THREAD with NULL attributes: the callback runs once per request, in a
 * thread other than the submitter, with the sigevent's value, after the
 * request is complete. */
#include "common.h"

#define N 16

static struct aiocb cbs[N];
static atomic_int count, wrong_thread, not_done;
static atomic_int seen[N];
static pthread_t main_thread;

static void callback(union sigval v)
{
	struct aiocb *cb = v.sival_ptr;
	long i = cb - cbs;
	if (i < 0 || i >= N) {
		fprintf(stderr, "callback got bad sival_ptr %p\n", v.sival_ptr);
		_exit(1);
	}
	if (pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&wrong_thread, 1);
	if (aio_error(cb) == EINPROGRESS)
		atomic_fetch_add(&not_done, 1);
	atomic_fetch_add(&seen[i], 1);
	atomic_fetch_add(&count, 1);
}

int main(void)
{
	main_thread = pthread_self();
	int fd = tmp_file("thread");
	static char buf[N][256];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, buf[i], 256, (off_t)i * 256, LIO_WRITE);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cbs[i].aio_sigevent.sigev_notify_function = callback;
		cbs[i].aio_sigevent.sigev_notify_attributes = NULL;
		cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
		EXPECT_OK(aio_write(&cbs[i]));
	}
	wait_flag(&count, N);
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], 256);
	sleep_ms(30);
	EXPECT_EQ(atomic_load(&count), N);
	for (int i = 0; i < N; i++)
		EXPECT_EQ(atomic_load(&seen[i]), 1);
	EXPECT_EQ(atomic_load(&wrong_thread), 0);
	EXPECT_EQ(atomic_load(&not_done), 0);
	printf("SIGEV_THREAD: %d callbacks with their values\n", N);
	close(fd);
	return 0;
}
