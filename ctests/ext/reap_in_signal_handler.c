/* aio_error and aio_suspend are async-signal-safe, and on kernel AIO they
 * take completions from the kernel's ring themselves: a signal handler that
 * calls them may interrupt paio in the middle of a submission or of taking
 * completions. For a bounded time, a thread signals the main thread every
 * ~50 us while it submits O_DIRECT writes, reads and fsyncs and waits with
 * aio_suspend; the handler polls every request in flight with aio_error and
 * calls aio_suspend with a zero timeout. Nothing may hang or be lost: every
 * request completes with the right result and the data reads back.
 * Skipped where the filesystem refuses O_DIRECT. */
#include "ext.h"

#define BLK 4096
#define NREQ 16
#define SECONDS 2

static struct aiocb cbs[NREQ + 1];
static atomic_int in_flight;
static atomic_long handled;

static void on_signal(int signo)
{
	(void)signo;
	int saved = errno;
	if (atomic_load(&in_flight)) {
		const struct aiocb *list[NREQ + 1];
		for (int i = 0; i <= NREQ; i++) {
			(void)aio_error(&cbs[i]);
			list[i] = &cbs[i];
		}
		struct timespec zero = { 0, 0 };
		(void)aio_suspend(list, NREQ + 1, &zero);
	}
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

int main(void)
{
	char path[PATH_MAX];
	int fd = tmp_file_flags("sig-reap", path, O_DIRECT);
	if (fd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	unlink(path);
	unsigned char *mem, *back;
	CHECK(posix_memalign((void **)&mem, BLK, NREQ * BLK) == 0);
	CHECK(posix_memalign((void **)&back, BLK, NREQ * BLK) == 0);
	if (pwrite(fd, mem, BLK, 0) != BLK)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	struct interrupter it;
	interrupter_start_every(&it, SIGUSR2, 50);

	long rounds = 0;
	long long end = now_ms() + SECONDS * 1000;
	while (now_ms() < end) {
		unsigned seed = 40 + rounds % 100;
		for (int i = 0; i < NREQ; i++) {
			fill_pattern(mem + i * BLK, BLK, seed, (long long)i * BLK);
			prep(&cbs[i], fd, mem + i * BLK, BLK, (off_t)i * BLK, LIO_WRITE);
		}
		prep(&cbs[NREQ], fd, NULL, 0, 0, LIO_NOP);
		atomic_store(&in_flight, 1);
		for (int i = 0; i < NREQ; i++)
			EXPECT_OK(aio_write(&cbs[i]));
		EXPECT_OK(aio_fsync(O_DSYNC, &cbs[NREQ]));
		suspend_all(cbs, NREQ + 1);
		for (int i = 0; i <= NREQ; i++)
			EXPECT_EQ(aio_return(&cbs[i]), i < NREQ ? BLK : 0);
		for (int i = 0; i < NREQ; i++) {
			prep(&cbs[i], fd, back + i * BLK, BLK, (off_t)i * BLK, LIO_READ);
			EXPECT_OK(aio_read(&cbs[i]));
		}
		suspend_all(cbs, NREQ);
		atomic_store(&in_flight, 0);
		for (int i = 0; i < NREQ; i++) {
			EXPECT_EQ(aio_return(&cbs[i]), BLK);
			EXPECT_PATTERN(back + i * BLK, BLK, seed, (long long)i * BLK);
		}
		rounds++;
	}
	interrupter_stop(&it);
	if (rounds < 1 || atomic_load(&handled) < 1)
		FAIL("%ld rounds, %ld signals handled", rounds, atomic_load(&handled));
	printf("writes, fsyncs and reads correct while a handler polls them\n");
	printf("~ %ld rounds, %ld signals handled\n", rounds, atomic_load(&handled));
	return 0;
}
