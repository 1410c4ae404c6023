/* aio_cancel(fd, NULL) cancels every request on fd that can be: with one read
 * running on a pipe and three queued behind it, the queued ones get ECANCELED
 * (each notified), the call says AIO_NOTCANCELED because of the running one,
 * and requests on another fd are untouched. */
#include "common.h"

#define Q 3

static atomic_int notified;
static atomic_int seen[Q];

static void callback(union sigval v)
{
	atomic_fetch_add(&seen[v.sival_int], 1);
	atomic_fetch_add(&notified, 1);
}

int main(void)
{
	struct aioinit init;
	memset(&init, 0, sizeof init);
	init.aio_threads = 1;
	aio_init(&init);

	int p[2];
	CHECK(pipe(p) == 0);
	char b[Q + 1][8];
	struct aiocb running, queued[Q];
	prep(&running, p[0], b[Q], 8, 0, LIO_READ);
	EXPECT_OK(aio_read(&running));
	let_worker_start();
	for (int i = 0; i < Q; i++) {
		prep(&queued[i], p[0], b[i], 8, 0, LIO_READ);
		queued[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		queued[i].aio_sigevent.sigev_notify_function = callback;
		queued[i].aio_sigevent.sigev_value.sival_int = i;
		EXPECT_OK(aio_read(&queued[i]));
	}
	EXPECT_EQ(aio_cancel(p[0], NULL), AIO_NOTCANCELED);
	for (int i = 0; i < Q; i++) {
		EXPECT_ERRNO(aio_error(&queued[i]), ECANCELED);
		EXPECT_EQ(aio_return(&queued[i]), -1);
	}
	wait_flag(&notified, Q);
	for (int i = 0; i < Q; i++)
		EXPECT_EQ(atomic_load(&seen[i]), 1);
	EXPECT_ERRNO(aio_error(&running), EINPROGRESS);
	must_write(p[1], "12345678", 8);
	EXPECT_DONE(&running, 8);
	EXPECT_EQ(aio_cancel(p[0], NULL), AIO_ALLDONE);
	printf("aio_cancel(fd, NULL): %d cancelled and notified, running one AIO_NOTCANCELED\n", Q);
	return 0;
}
