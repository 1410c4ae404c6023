/* matrix: once */
/* AIO notifications to signal handlers: with SA_RESTART a blocking read()
 * in the main thread restarts, without it the read fails with EINTR; the
 * handler runs in the main thread (the only one that does not block the
 * signal), and queued real-time notifications all arrive with their
 * values. */
#include "matrix.h"

static pid_t main_tid;
static atomic_int handled, in_main, codes_ok;
static atomic_int rt_values[64];

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	atomic_fetch_add(&handled, 1);
	atomic_fetch_add(&in_main, gettid_() == main_tid);
	atomic_fetch_add(&codes_ok, si->si_code == SI_ASYNCIO);
	int v = si->si_value.sival_int;
	if (sig == SIGRTMIN + 2 && v >= 100 && v < 164)
		atomic_fetch_add(&rt_values[v - 100], 1);
}

static void install(int sig, int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

/* A program thread with every signal blocked that writes `len` bytes to fd
 * after `ms`. */
struct later {
	int fd;
	long ms;
	const char *data;
};

static void *write_later(void *arg)
{
	struct later *l = arg;
	block_all_signals();
	sleep_ms(l->ms);
	must_write(l->fd, l->data, strlen(l->data));
	return NULL;
}

static pthread_t start_later(struct later *l)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, write_later, l) == 0);
	return t;
}

/* A read on pipe q notified by `sig`, completed by a program thread after
 * 100 ms, while main blocks in read() on pipe p, which gets data after
 * 400 ms. */
static void blocking_read_across(int sig, int value)
{
	int p[2], q[2];
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	char buf[8] = { 0 }, qbuf[8] = { 0 };
	struct aiocb cb;
	prep(&cb, q[0], qbuf, 1, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = sig;
	cb.aio_sigevent.sigev_value.sival_int = value;
	CHECK(aio_read(&cb) == 0);
	struct later lq = { q[1], 100, "q" }, lp = { p[1], 400, "p" };
	pthread_t tq = start_later(&lq), tp = start_later(&lp);
	int before = atomic_load(&handled);
	errno = 0;
	ssize_t r = read(p[0], buf, 1);
	int e = errno;
	printf("  read(): %zd %s\n", r, r < 0 ? ename(e) : buf);
	printf("  notification: %s\n", finish(&cb, "notified read"));
	wait_flag(&handled, before + 1);
	CHECK(pthread_join(tq, NULL) == 0 && pthread_join(tp, NULL) == 0);
	if (r < 0)
		printf("  read() again: %zd\n", read(p[0], buf, 1));
	printf("  handler ran %d time(s)\n", atomic_load(&handled) - before);
	close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	main_tid = gettid_();
	install(SIGUSR1, SA_RESTART);
	install(SIGUSR2, 0);
	install(SIGRTMIN + 2, SA_RESTART);
	printf("SA_RESTART:\n");
	blocking_read_across(SIGUSR1, 1);
	printf("without SA_RESTART:\n");
	blocking_read_across(SIGUSR2, 2);

	/* 64 real-time notifications, each queued with its own value. */
	int fd = tmp_file("handlers");
	static char buf[64][512];
	static struct aiocb cbs[64];
	int before = atomic_load(&handled);
	for (int i = 0; i < 64; i++) {
		prep(&cbs[i], fd, buf[i], sizeof buf[i], 512 * i, LIO_WRITE);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cbs[i].aio_sigevent.sigev_signo = SIGRTMIN + 2;
		cbs[i].aio_sigevent.sigev_value.sival_int = 100 + i;
		CHECK(aio_write(&cbs[i]) == 0);
	}
	int ok = 0;
	for (int i = 0; i < 64; i++)
		ok += strcmp(finish(&cbs[i], "write"), "ok 512") == 0;
	wait_flag(&handled, before + 64);
	int each_once = 1;
	for (int i = 0; i < 64; i++)
		each_once &= atomic_load(&rt_values[i]) == 1;
	printf("64 writes: %d ok, %d notifications, each value once: %s\n", ok,
	       atomic_load(&handled) - before, each_once ? "yes" : "no");
	printf("handlers in the main thread: %d of %d, SI_ASYNCIO: %d\n",
	       atomic_load(&in_main), atomic_load(&handled), atomic_load(&codes_ok));
	close(fd);
	return 0;
}
