/* Requests that go to kernel AIO without a notification need no paio thread:
 * the program's own aio_error takes their completions from the kernel's ring
 * and aio_suspend sleeps in the ring. Covered, with data checked each time:
 * - 64 O_DIRECT reads waited for with aio_suspend over the whole list, then
 *   64 more from one lio_listio(LIO_NOWAIT) without a list notification;
 * - 32 O_DIRECT reads waited for with aio_error alone (a busy poll);
 * - 600 O_DIRECT reads submitted before any is reaped (more than a ring
 *   holds; what does not fit runs on the pool);
 * - one list mixing an O_DIRECT read with a large buffered write (the pool):
 *   the pool's completion wakes a thread sleeping in the ring;
 * - two threads, each waiting for its own O_DIRECT reads;
 * - aio_suspend with a timeout on a request still in the kernel's hands.
 * On kernel AIO no completion thread ("paio-reap") exists after all that.
 * Then 64 O_DIRECT writes and an aio_fsync queued behind them, waited for
 * with aio_suspend on the fsync alone: a completion releases its barrier, so
 * the one completion thread starts. A request with SIGEV_SIGNAL then has its
 * signal delivered by it.
 * Skipped where the filesystem refuses O_DIRECT. */
#include "ext.h"
#include <dirent.h>

#define BLK 4096
#define NREAD 64
#define NMANY 600
#define FILE_BLOCKS 1024

static int fd;
static unsigned char *mem;

static void read_blocks(struct aiocb *cbs, int n, int first)
{
	for (int i = 0; i < n; i++) {
		int b = (first + i * 7) % FILE_BLOCKS;
		prep(&cbs[i], fd, mem + (size_t)i * BLK, BLK, (off_t)b * BLK,
		     LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
	}
}

static void check_blocks(struct aiocb *cbs, int n)
{
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(aio_error(&cbs[i]), 0);
		EXPECT_EQ(aio_return(&cbs[i]), BLK);
		EXPECT_PATTERN((void *)cbs[i].aio_buf, BLK, 5, cbs[i].aio_offset);
	}
}

struct reader {
	pthread_t thread;
	unsigned char *buf;
	int first;
	int bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct aiocb cbs[16];
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 16; i++) {
			int b = (r->first + round * 16 + i) % FILE_BLOCKS;
			prep(&cbs[i], fd, r->buf + (size_t)i * BLK, BLK,
			     (off_t)b * BLK, LIO_READ);
			if (aio_read(&cbs[i]) != 0)
				r->bad++;
		}
		suspend_all(cbs, 16);
		for (int i = 0; i < 16; i++)
			if (aio_return(&cbs[i]) != BLK ||
			    find_mismatch(r->buf + (size_t)i * BLK, BLK, 5,
					  cbs[i].aio_offset) >= 0)
				r->bad++;
	}
	return NULL;
}

/* Threads of this process named `name`. */
static int threads_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[32] = { 0 };
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		int f = open(path, O_RDONLY);
		if (f < 0)
			continue;
		ssize_t r = read(f, comm, sizeof comm - 1);
		close(f);
		if (r > 0 && comm[r - 1] == '\n')
			comm[r - 1] = 0;
		n += strcmp(comm, name) == 0;
	}
	closedir(d);
	return n;
}

/* Threads paio started so far (informational). */
static void show_threads(const char *after)
{
	printf("~ threads after %s: %llu started, %d completion threads\n", after,
	       (unsigned long long)stats_now().threads, threads_named("paio-reap"));
}

static atomic_int signals;

static void on_signal(int signo, siginfo_t *si, void *ctx)
{
	(void)signo;
	(void)ctx;
	if (si->si_code == SI_ASYNCIO)
		atomic_fetch_add(&signals, 1);
}

int main(void)
{
	char path[PATH_MAX];
	fd = tmp_file_flags("no-thread", path, O_DIRECT);
	if (fd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	unlink(path);
	CHECK(posix_memalign((void **)&mem, BLK, (size_t)NMANY * BLK) == 0);
	fill_pattern(mem, (size_t)FILE_BLOCKS * BLK / 2, 5, 0);
	if (pwrite(fd, mem, (size_t)FILE_BLOCKS * BLK / 2, 0) !=
	    (ssize_t)FILE_BLOCKS * BLK / 2)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));
	fill_pattern(mem, (size_t)FILE_BLOCKS * BLK / 2, 5,
		     (long long)FILE_BLOCKS * BLK / 2);
	must_pwrite(fd, mem, (size_t)FILE_BLOCKS * BLK / 2,
		    (off_t)FILE_BLOCKS * BLK / 2);
	struct paio_stats before = stats_now();
	int kernel = before.kernel_aio || !backend_is_threads();

	static struct aiocb cbs[NMANY];
	read_blocks(cbs, NREAD, 3);
	suspend_all(cbs, NREAD);
	check_blocks(cbs, NREAD);
	printf("%d O_DIRECT reads waited for with aio_suspend\n", NREAD);

	/* A list without a list notification is just its requests. */
	struct aiocb *lio[NREAD];
	for (int i = 0; i < NREAD; i++) {
		int b = (29 + i * 3) % FILE_BLOCKS;
		prep(&cbs[i], fd, mem + (size_t)i * BLK, BLK, (off_t)b * BLK, LIO_READ);
		lio[i] = &cbs[i];
	}
	EXPECT_OK(lio_listio(LIO_NOWAIT, lio, NREAD, NULL));
	suspend_all(cbs, NREAD);
	check_blocks(cbs, NREAD);
	printf("lio_listio(LIO_NOWAIT) of %d O_DIRECT reads\n", NREAD);
	show_threads("suspend");

	read_blocks(cbs, 32, 11);
	long long deadline = now_ms() + WAIT_MS;
	for (int i = 0; i < 32; i++)
		while (aio_error(&cbs[i]) == EINPROGRESS)
			if (now_ms() > deadline)
				FAIL("read %d still in progress with aio_error polling", i);
	check_blocks(cbs, 32);
	printf("32 O_DIRECT reads waited for with aio_error alone\n");
	show_threads("poll");


	read_blocks(cbs, NMANY, 17);
	suspend_all(cbs, NMANY);
	check_blocks(cbs, NMANY);
	printf("%d O_DIRECT reads submitted before any was reaped\n", NMANY);
	show_threads("many");

	/* An O_DIRECT read and a buffered write of 1 MiB (the pool on ext4). */
	int bfd = tmp_file("no-thread-buffered");
	size_t big = 1 << 20;
	unsigned char *bigbuf = malloc(big);
	CHECK(bigbuf != NULL);
	fill_pattern(bigbuf, big, 9, 0);
	struct aiocb mixed[2];
	prep(&mixed[0], fd, mem, BLK, 0, LIO_READ);
	prep(&mixed[1], bfd, bigbuf, big, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&mixed[1]));
	EXPECT_OK(aio_read(&mixed[0]));
	suspend_all(mixed, 2);
	EXPECT_EQ(aio_return(&mixed[0]), BLK);
	EXPECT_EQ(aio_return(&mixed[1]), (ssize_t)big);
	unsigned char *check = malloc(big);
	CHECK(check != NULL);
	must_pread(bfd, check, big, 0);
	EXPECT_PATTERN(check, big, 9, 0);
	printf("an O_DIRECT read and a 1 MiB buffered write in one list\n");
	show_threads("mixed");

	struct reader readers[2];
	for (int t = 0; t < 2; t++) {
		readers[t].first = 100 * t;
		readers[t].bad = 0;
		CHECK(posix_memalign((void **)&readers[t].buf, BLK, 16 * BLK) == 0);
		CHECK(pthread_create(&readers[t].thread, NULL, reader_main,
				     &readers[t]) == 0);
	}
	for (int t = 0; t < 2; t++) {
		CHECK(pthread_join(readers[t].thread, NULL) == 0);
		EXPECT_EQ(readers[t].bad, 0);
	}
	printf("two threads, each waiting for its own O_DIRECT reads\n");
	show_threads("two threads");

	/* A zero timeout on a request just submitted: EAGAIN or done. */
	read_blocks(cbs, 1, 0);
	const struct aiocb *first[1] = { &cbs[0] };
	struct timespec zero = { 0, 0 };
	int r = aio_suspend(first, 1, &zero);
	if (r != 0 && errno != EAGAIN)
		FAIL("aio_suspend with a zero timeout: %s", strerror(errno));
	suspend_all(cbs, 1);
	check_blocks(cbs, 1);
	printf("a zero timeout on a request in the kernel\n");

	struct paio_stats after = stats_now();
	if (after.kernel_aio) {
		int reapers = threads_named("paio-reap");
		if (reapers != 0)
			FAIL("%d completion threads for requests without notification",
			     reapers);
		printf("~ kernel %llu, pool %llu\n",
		       (unsigned long long)(after.kernel - before.kernel),
		       (unsigned long long)(after.pool - before.pool));
	} else if (kernel) {
		printf("~ kernel AIO not in use (fallback %d)\n", after.fallback_errno);
	}

	/* An fsync queued behind writes: its barrier is released by a
	 * completion, so the completion thread takes over. */
	for (int i = 0; i < NREAD; i++) {
		fill_pattern(mem + (size_t)i * BLK, BLK, 5, (long long)i * BLK);
		prep(&cbs[i], fd, mem + (size_t)i * BLK, BLK, (off_t)i * BLK,
		     LIO_WRITE);
		EXPECT_OK(aio_write(&cbs[i]));
	}
	struct aiocb sync;
	prep(&sync, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &sync));
	const struct aiocb *one[1] = { &sync };
	deadline = now_ms() + WAIT_MS;
	while (aio_error(&sync) == EINPROGRESS) {
		if (now_ms() > deadline)
			FAIL("fsync behind 64 writes still in progress");
		if (aio_suspend(one, 1, NULL) != 0 && errno != EINTR)
			FAIL("aio_suspend(fsync): %s", strerror(errno));
	}
	EXPECT_EQ(aio_error(&sync), 0);
	for (int i = 0; i < NREAD; i++) {
		if (aio_error(&cbs[i]) != 0 || aio_return(&cbs[i]) != BLK)
			FAIL("write %d not done when its fsync was (%s)", i,
			     errname(aio_error(&cbs[i])));
	}
	printf("an fsync behind 64 O_DIRECT writes waited for alone\n");
	if (after.kernel_aio && threads_named("paio-reap") != 1)
		FAIL("%d completion threads after an fsync queued behind kernel writes",
		     threads_named("paio-reap"));

	/* A notification needs someone to act on the completion. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	read_blocks(cbs, 1, 5);
	/* Not through aio_read's plain path: give it a signal. */
	struct aiocb sig;
	prep(&sig, fd, mem + BLK, BLK, 0, LIO_READ);
	sig.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	sig.aio_sigevent.sigev_signo = SIGUSR1;
	EXPECT_OK(aio_read(&sig));
	wait_flag(&signals, 1);
	EXPECT_EQ(aio_return(&sig), BLK);
	suspend_all(cbs, 1);
	check_blocks(cbs, 1);
	struct paio_stats last = stats_now();
	if (last.kernel_aio && threads_named("paio-reap") != 1)
		FAIL("%d completion threads after a signal notification",
		     threads_named("paio-reap"));
	printf("SIGEV_SIGNAL on an O_DIRECT read delivered\n");
	return 0;
}
