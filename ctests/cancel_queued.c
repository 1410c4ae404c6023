/* aio_cancel on a queued request: AIO_CANCELED, then aio_error ECANCELED,
 * aio_return -1, and its notification (SIGEV_SIGNAL) is delivered. The running
 * request ahead of it gives AIO_NOTCANCELED and later completes normally.
 *
 * Deterministic setup: aio_init(aio_threads = 1); a read on an empty pipe runs
 * and blocks; a second read on the same pipe queues behind it (requests on one
 * pipe run in order). */
#include "common.h"

static atomic_int signals, last_value, last_code;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_store(&last_value, si->si_value.sival_int);
	atomic_store(&last_code, si->si_code);
	atomic_fetch_add(&signals, 1);
}

int main(void)
{
	struct aioinit init;
	memset(&init, 0, sizeof init);
	init.aio_threads = 1;
	init.aio_num = 4;
	aio_init(&init);
	install_siginfo_handler(SIGRTMIN, on_rt);

	int p[2];
	CHECK(pipe(p) == 0);
	char b1[8], b2[8];
	struct aiocb first, second;
	prep(&first, p[0], b1, sizeof b1, 0, LIO_READ);
	EXPECT_OK(aio_read(&first));
	let_worker_start();
	prep(&second, p[0], b2, sizeof b2, 0, LIO_READ);
	second.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	second.aio_sigevent.sigev_signo = SIGRTMIN;
	second.aio_sigevent.sigev_value.sival_int = 2;
	EXPECT_OK(aio_read(&second));
	EXPECT_ERRNO(aio_error(&second), EINPROGRESS);

	EXPECT_EQ(aio_cancel(p[0], &second), AIO_CANCELED);
	/* Cancelled means finished: no waiting needed. */
	EXPECT_ERRNO(aio_error(&second), ECANCELED);
	EXPECT_EQ(aio_return(&second), -1);
	wait_flag(&signals, 1);
	EXPECT_EQ(atomic_load(&last_value), 2);
	EXPECT_EQ(atomic_load(&last_code), SI_ASYNCIO);
	/* Cancelling it again: it is done. */
	EXPECT_EQ(aio_cancel(p[0], &second), AIO_ALLDONE);

	EXPECT_EQ(aio_cancel(p[0], &first), AIO_NOTCANCELED);
	EXPECT_ERRNO(aio_error(&first), EINPROGRESS);
	must_write(p[1], "data", 4);
	EXPECT_DONE(&first, 4);
	CHECK(memcmp(b1, "data", 4) == 0);
	sleep_ms(20);
	EXPECT_EQ(atomic_load(&signals), 1);
	printf("queued: AIO_CANCELED, ECANCELED, -1, notified; running: AIO_NOTCANCELED\n");
	return 0;
}
