/* SIGEV_THREAD_ID: the signal goes to the thread named by
 * sigev_notify_thread_id. paio delivers it to that thread; glibc accepts the
 * request and silently sends nothing (an intentional difference). */
#include "common.h"

static atomic_int got, got_tid, target_ready, stop;
static atomic_int target_tid;

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_store(&got_tid, gettid_());
	if (si->si_code != SI_ASYNCIO || si->si_value.sival_int != 77)
		atomic_store(&got_tid, -1);
	atomic_fetch_add(&got, 1);
}

static void *target(void *arg)
{
	(void)arg;
	atomic_store(&target_tid, gettid_());
	atomic_store(&target_ready, 1);
	while (!atomic_load(&stop))
		sleep_ms(1);
	return NULL;
}

int main(void)
{
	/* The signal is unblocked everywhere: a process-directed one would land
	 * on the main thread, so landing on the target proves direction. */
	install_siginfo_handler(SIGUSR2, on_usr2);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, target, NULL) == 0);
	wait_flag(&target_ready, 1);

	int fd = tmp_file("tid");
	char buf[64];
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
	cb.aio_sigevent.sigev_signo = SIGUSR2;
	cb.aio_sigevent.sigev_value.sival_int = 77;
	cb.aio_sigevent.sigev_notify_thread_id = atomic_load(&target_tid);
	errno = 0;
	int r = aio_write(&cb);
	if (r != 0)
		FAIL("aio_write with SIGEV_THREAD_ID: %s", errname(errno));
	EXPECT_DONE(&cb, sizeof buf);
	if (is_paio()) {
		wait_flag(&got, 1);
		sleep_ms(20);
		EXPECT_EQ(atomic_load(&got), 1);
		if (atomic_load(&got_tid) != atomic_load(&target_tid))
			FAIL("signal ran on tid %d, expected target %d (main %d)",
			     atomic_load(&got_tid), atomic_load(&target_tid), gettid_());
		printf("SIGEV_THREAD_ID: delivered to the named thread\n");
	} else {
		sleep_ms(100);
		printf("glibc: SIGEV_THREAD_ID %s (signals %d, %s)\n",
		       atomic_load(&got) ? "delivered" : "ignored", atomic_load(&got),
		       atomic_load(&got_tid) == atomic_load(&target_tid) ? "to target" : "not to target");
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	close(fd);
	return 0;
}
