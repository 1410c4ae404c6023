/* A program that closed its standard streams gets them back with open(),
 * which returns the lowest free number (POSIX): daemons do close(0) then
 * open("/dev/null") to make it stdin. paio's own descriptors (its eventfds,
 * the io_uring ring, duplicates held by queued requests) must never take
 * 0, 1 or 2, even under the common 1024-descriptor limit or a tiny one. */
#include "common.h"

#include <sys/resource.h>

static int reopen_three(char *out, size_t n)
{
	int a = open("/dev/null", O_RDONLY);
	int b = open("/dev/null", O_WRONLY);
	int c = open("/dev/null", O_WRONLY);
	snprintf(out, n, "%d %d %d", a, b, c);
	return a == 0 && b == 1 && c == 2;
}

static void run(rlim_t limit, const char *tag)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = limit < rl.rlim_max ? limit : rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);

	static char buf[64 * 1024] __attribute__((aligned(4096)));
	char path[PATH_MAX];
	int d = tmp_file_flags(tag, path, O_DIRECT);
	int direct = d >= 0;
	if (!direct)
		d = tmp_file_flags(tag, path, 0);
	CHECK(d >= 0);
	int c = open(path, O_RDONLY);
	int p[2];
	CHECK(c >= 0 && pipe(p) == 0);
	int out = dup(1), err = dup(2), in = dup(0);
	CHECK(out >= 0 && err >= 0 && in >= 0);
	close(0);
	close(1);
	close(2);

	/* What makes paio open its descriptors: a kernel request waited
	 * for, one with a signal (a completion thread), an uncached read,
	 * a pipe read queued (a duplicate of the descriptor). */
	memset(buf, 'a', sizeof buf);
	struct aiocb cb;
	prep(&cb, d, buf, 4096, 0, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIGURG; /* ignored by default */
	int ok = aio_write(&cb) == 0 && wait_done(&cb) == 0;
	posix_fadvise(c, 0, 0, POSIX_FADV_DONTNEED);
	prep(&cb, c, buf, 4096, 0, LIO_READ);
	ok &= aio_read(&cb) == 0 && wait_done(&cb) == 0;
	struct aiocb pr;
	prep(&pr, p[0], buf, 1, 0, LIO_READ);
	ok &= aio_read(&pr) == 0;
	sleep_ms(20);

	char got[64];
	int low = reopen_three(got, sizeof got);
	must_write(p[1], "x", 1);
	ok &= wait_done(&pr) == 0;

	CHECK(dup2(in, 0) == 0 && dup2(out, 1) == 1 && dup2(err, 2) == 2);
	close(in);
	close(out);
	close(err);
	printf("limit %s: requests %s; open after closing 0, 1, 2 gave %s (%s)\n",
	       tag, ok ? "done" : "FAILED", low ? "0 1 2" : got,
	       low ? "the lowest" : "not the lowest");
	close(c);
	close(d);
	close(p[0]);
	close(p[1]);
	unlink(path);
}

int main(void)
{
	run(1024, "1024");
	run(32, "32");
	return 0;
}
