/* aio_suspend is async-signal-safe: a signal handler may wait in it while
 * the thread it interrupted is itself waiting in aio_suspend. Here the main
 * thread waits for a 128 MiB buffered write (the pool) while another thread
 * submits an O_DIRECT read and signals it; the handler waits, with no
 * timeout, for that read, which only a waiting thread takes from the kernel
 * (no completion thread runs). Ten rounds; every request completes with the
 * right data and nothing hangs (the watchdog of common.h bounds the run).
 * Skipped where the filesystem refuses O_DIRECT. */
#include "ext.h"

#define BLK 4096
#define BIG (128u << 20)
#define ROUNDS 10

static int dfd;
static unsigned char *rbuf;
static struct aiocb rd;
static atomic_int handled, handler_ok, in_suspend, nested;
static pthread_t main_thread;

static void on_signal(int signo)
{
	(void)signo;
	int saved = errno;
	if (atomic_load(&in_suspend))
		atomic_fetch_add(&nested, 1);
	const struct aiocb *list[1] = { &rd };
	while (aio_error(&rd) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) != 0 && errno != EINTR)
			break;
	if (aio_error(&rd) == 0 && aio_return(&rd) == BLK &&
	    find_mismatch(rbuf, BLK, 8, 0) < 0)
		atomic_fetch_add(&handler_ok, 1);
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

static void *reader_main(void *arg)
{
	(void)arg;
	/* Let the main thread get into aio_suspend first. */
	long long until = now_ms() + 5000;
	while (!atomic_load(&in_suspend) && now_ms() < until)
		sched_yield();
	sleep_ms(1);
	prep(&rd, dfd, rbuf, BLK, 0, LIO_READ);
	if (aio_read(&rd) != 0)
		return (void *)1;
	pthread_kill(main_thread, SIGUSR2);
	return NULL;
}

int main(void)
{
	char path[PATH_MAX];
	dfd = tmp_file_flags("nested-direct", path, O_DIRECT);
	if (dfd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	unlink(path);
	CHECK(posix_memalign((void **)&rbuf, BLK, BLK) == 0);
	fill_pattern(rbuf, BLK, 8, 0);
	if (pwrite(dfd, rbuf, BLK, 0) != BLK)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	main_thread = pthread_self();

	int bfd = tmp_file("nested-big");
	unsigned char *big = malloc(BIG);
	CHECK(big != NULL);
	fill_pattern(big, BIG, 9, 0);
	for (int round = 0; round < ROUNDS; round++) {
		memset(rbuf, 0, BLK);
		struct aiocb w;
		prep(&w, bfd, big, BIG, 0, LIO_WRITE);
		EXPECT_OK(aio_write(&w));
		pthread_t t;
		CHECK(pthread_create(&t, NULL, reader_main, NULL) == 0);
		const struct aiocb *list[1] = { &w };
		while (aio_error(&w) == EINPROGRESS) {
			atomic_store(&in_suspend, 1);
			int rc = aio_suspend(list, 1, NULL);
			atomic_store(&in_suspend, 0);
			if (rc != 0 && errno != EINTR)
				FAIL("aio_suspend(big write): %s", strerror(errno));
		}
		EXPECT_EQ(aio_return(&w), (ssize_t)BIG);
		void *r;
		CHECK(pthread_join(t, &r) == 0 && r == NULL);
		wait_flag(&handled, round + 1);
	}
	EXPECT_EQ(atomic_load(&handler_ok), ROUNDS);
	printf("a handler waited for an O_DIRECT read while its thread waited for a write, %d times\n",
	       ROUNDS);
	printf("~ %d of %d handlers ran inside the interrupted aio_suspend\n",
	       atomic_load(&nested), ROUNDS);
	return 0;
}
