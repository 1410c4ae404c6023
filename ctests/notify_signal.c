/* SIGEV_SIGNAL with SIGRTMIN: one signal per request, si_code SI_ASYNCIO,
 * si_value from the sigevent, si_signo right, sent by this process, and the
 * request is already complete (aio_error != EINPROGRESS) in the handler. */
#include "common.h"

#define N 16

static struct aiocb cbs[N];
static atomic_int count;
static atomic_int seen[N];
static atomic_int bad_code, bad_signo, bad_value, not_done, pid_self;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (si->si_code != SI_ASYNCIO)
		atomic_store(&bad_code, si->si_code == 0 ? 1000 : si->si_code);
	if (si->si_signo != sig)
		atomic_store(&bad_signo, 1);
	int v = si->si_value.sival_int;
	if (v < 1000 || v >= 1000 + N) {
		atomic_store(&bad_value, 1);
	} else {
		atomic_fetch_add(&seen[v - 1000], 1);
		if (aio_error(&cbs[v - 1000]) == EINPROGRESS)
			atomic_fetch_add(&not_done, 1);
	}
	if (si->si_pid == getpid())
		atomic_fetch_add(&pid_self, 1);
	atomic_fetch_add(&count, 1);
}

int main(void)
{
	install_siginfo_handler(SIGRTMIN, on_rt);
	int fd = tmp_file("signal");
	static char buf[N][512];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, buf[i], 512, (off_t)i * 512, LIO_WRITE);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cbs[i].aio_sigevent.sigev_signo = SIGRTMIN;
		cbs[i].aio_sigevent.sigev_value.sival_int = 1000 + i;
		EXPECT_OK(aio_write(&cbs[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], 512);
	wait_flag(&count, N);
	sleep_ms(50); /* no extra signals */
	EXPECT_EQ(atomic_load(&count), N);
	for (int i = 0; i < N; i++)
		EXPECT_EQ(atomic_load(&seen[i]), 1);
	EXPECT_EQ(atomic_load(&bad_code), 0);
	EXPECT_EQ(atomic_load(&bad_signo), 0);
	EXPECT_EQ(atomic_load(&bad_value), 0);
	EXPECT_EQ(atomic_load(&not_done), 0);
	printf("SIGEV_SIGNAL: %d signals, SI_ASYNCIO, values ok\n", N);
	printf("si_pid is this process: %s\n",
	       atomic_load(&pid_self) == N ? "yes" : "no");

	/* sival_ptr round-trips too. */
	atomic_store(&count, 0);
	prep(&cbs[0], fd, buf[0], 512, 0, LIO_READ);
	cbs[0].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cbs[0].aio_sigevent.sigev_signo = SIGRTMIN;
	cbs[0].aio_sigevent.sigev_value.sival_ptr = (void *)(uintptr_t)1000;
	EXPECT_OK(aio_read(&cbs[0]));
	EXPECT_DONE(&cbs[0], 512);
	wait_flag(&count, 1);
	EXPECT_EQ(atomic_load(&seen[0]), 2);
	close(fd);
	return 0;
}
