/* A cancelled request is notified like a completed one, for each kind:
 * SIGEV_SIGNAL (value and SI_ASYNCIO) and SIGEV_THREAD (value); SIGEV_NONE
 * gets nothing. Uses the aio_threads = 1 pipe setup to have queued requests. */
#include "common.h"

static atomic_int sigs, sig_value, sig_code, threads, thread_value, stray;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_store(&sig_value, si->si_value.sival_int);
	atomic_store(&sig_code, si->si_code);
	atomic_fetch_add(&sigs, 1);
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&stray, 1);
}

static void callback(union sigval v)
{
	atomic_store(&thread_value, v.sival_int);
	atomic_fetch_add(&threads, 1);
}

int main(void)
{
	struct aioinit init;
	memset(&init, 0, sizeof init);
	init.aio_threads = 1;
	aio_init(&init);
	install_siginfo_handler(SIGRTMIN + 1, on_rt);
	install_handler(SIGUSR1, on_usr1);

	int p[2];
	CHECK(pipe(p) == 0);
	char b[4][8];
	struct aiocb blocker, s, t, n;
	prep(&blocker, p[0], b[0], 8, 0, LIO_READ);
	EXPECT_OK(aio_read(&blocker));
	let_worker_start();
	prep(&s, p[0], b[1], 8, 0, LIO_READ);
	s.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	s.aio_sigevent.sigev_signo = SIGRTMIN + 1;
	s.aio_sigevent.sigev_value.sival_int = 31;
	prep(&t, p[0], b[2], 8, 0, LIO_READ);
	t.aio_sigevent.sigev_notify = SIGEV_THREAD;
	t.aio_sigevent.sigev_notify_function = callback;
	t.aio_sigevent.sigev_value.sival_int = 32;
	prep(&n, p[0], b[3], 8, 0, LIO_READ);
	n.aio_sigevent.sigev_notify = SIGEV_NONE;
	n.aio_sigevent.sigev_signo = SIGUSR1;
	EXPECT_OK(aio_read(&s));
	EXPECT_OK(aio_read(&t));
	EXPECT_OK(aio_read(&n));
	EXPECT_EQ(aio_cancel(p[0], &s), AIO_CANCELED);
	EXPECT_EQ(aio_cancel(p[0], &t), AIO_CANCELED);
	EXPECT_EQ(aio_cancel(p[0], &n), AIO_CANCELED);
	wait_flag(&sigs, 1);
	wait_flag(&threads, 1);
	EXPECT_EQ(atomic_load(&sig_value), 31);
	EXPECT_EQ(atomic_load(&sig_code), SI_ASYNCIO);
	EXPECT_EQ(atomic_load(&thread_value), 32);
	must_write(p[1], "z", 1);
	EXPECT_DONE(&blocker, 1);
	sleep_ms(30);
	EXPECT_EQ(atomic_load(&sigs), 1);
	EXPECT_EQ(atomic_load(&threads), 1);
	EXPECT_EQ(atomic_load(&stray), 0);
	printf("cancelled requests notified: SIGEV_SIGNAL and SIGEV_THREAD\n");
	return 0;
}
