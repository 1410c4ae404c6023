/* matrix: once */
/* The daemon design: every signal blocked in every thread, one thread takes
 * them with sigwaitinfo. After a SIGEV_THREAD callback has run, AIO
 * notifications (SIGEV_SIGNAL, an lio_listio list signal) and plain kill()s
 * must all reach that thread; a thread of the AIO implementation that took
 * one would kill the process (default action). */
#include "matrix.h"

struct got {
	int signo, code, value, by_waiter;
};
enum { KILLS = 50 };
static struct got got[8 + KILLS];
static atomic_int ngot, callbacks;
static pid_t waiter_tid;

static void *waiter(void *arg)
{
	(void)arg;
	waiter_tid = gettid_();
	sigset_t set;
	sigfillset(&set);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig == SIGTERM)
			return NULL;
		int i = atomic_load(&ngot);
		if (i < 8 + KILLS)
			got[i] = (struct got){ sig, si.si_code, si.si_value.sival_int,
					      gettid_() == waiter_tid };
		atomic_store(&ngot, i + 1);
	}
}

static void callback(union sigval v)
{
	(void)v;
	atomic_fetch_add(&callbacks, 1);
}

static void expect(int n)
{
	wait_flag(&ngot, n);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGALRM); /* the watchdog */
	CHECK(pthread_sigmask(SIG_BLOCK, &all, NULL) == 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	int fd = tmp_file("sigwait");
	static char buf[4096];

	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = callback;
	CHECK(aio_write(&cb) == 0);
	printf("SIGEV_THREAD write: %s\n", finish(&cb, "write"));
	wait_flag(&callbacks, 1);
	sleep_ms(50); /* let the callback's thread go back to where it idles */

	prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIGUSR1;
	cb.aio_sigevent.sigev_value.sival_int = 42;
	CHECK(aio_read(&cb) == 0);
	printf("SIGEV_SIGNAL read: %s\n", finish(&cb, "read"));
	expect(1);

	struct aiocb a, b, *list[2] = { &a, &b };
	prep(&a, fd, buf, 100, 0, LIO_READ);
	prep(&b, fd, buf + 100, 100, 100, LIO_READ);
	struct sigevent lsev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	lsev.sigev_value.sival_int = 7;
	printf("lio_listio NOWAIT: %d\n", lio_listio(LIO_NOWAIT, list, 2, &lsev));
	printf("entries: %s", finish(&a, "a"));
	printf(", %s\n", finish(&b, "b"));
	expect(2);

	/* Many kill()s: any thread that leaves SIGRTMIN+1 unblocked would
	 * sooner or later be the one the kernel picks. */
	for (int i = 0; i < KILLS; i++) {
		CHECK(kill(getpid(), SIGRTMIN + 1) == 0);
		expect(3 + i);
	}
	CHECK(kill(getpid(), SIGHUP) == 0);
	expect(3 + KILLS);
	/* Another SIGEV_THREAD, then a signal while its thread may idle. */
	prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = callback;
	CHECK(aio_read(&cb) == 0);
	finish(&cb, "read");
	wait_flag(&callbacks, 2);
	sleep_ms(50);
	CHECK(kill(getpid(), SIGUSR1) == 0);
	expect(4 + KILLS);
	CHECK(kill(getpid(), SIGTERM) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	for (int i = 0; i < atomic_load(&ngot); i++)
		if (i < 3 || i >= 2 + KILLS)
			printf("got SIG%s %s value %d in the sigwait thread: %s\n",
		       signame(got[i].signo), codename(got[i].code),
			       got[i].code == SI_USER ? 0 : got[i].value,
			       got[i].by_waiter ? "yes" : "no");
	int in_waiter = 1;
	for (int i = 2; i < 2 + KILLS; i++)
		in_waiter &= got[i].signo == SIGRTMIN + 1 && got[i].by_waiter;
	printf("%d kill()s of SIGRTMIN+1 all in the sigwait thread: %s\n", KILLS, in_waiter ? "yes" : "no");
	printf("callbacks: %d\n", atomic_load(&callbacks));
	close(fd);
	return 0;
}
