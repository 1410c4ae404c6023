/* Writes that raise a signal in the writing thread must not kill the
 * program: glibc writes from a helper thread that blocks every signal, so
 * the program sees only the error.
 *  - SIGPIPE: a write to a pipe or a socket whose reader is gone gives
 *    EPIPE (default disposition kept); with SIGPIPE blocked by the program,
 *    no SIGPIPE is left pending either;
 *  - SIGXFSZ: a write at or past RLIMIT_FSIZE gives EFBIG, one that starts
 *    below it is cut short there; with the limit set before the first AIO
 *    call, then lifted (setrlimit), then set again (prlimit) after AIO
 *    started; plain, O_APPEND and O_DIRECT files. */
#include "common.h"

#include <sys/resource.h>

#define LIMIT 8192

static void one_write(const char *what, int fd, const void *buf, size_t len, off_t off)
{
	struct aiocb cb;
	prep(&cb, fd, (void *)buf, len, off, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	int err = wait_done(&cb);
	ssize_t ret = aio_return(&cb);
	printf("%s: %s, %zd\n", what, errname(err), ret);
}

static int sigpipe_pending(void)
{
	sigset_t p;
	CHECK(sigpending(&p) == 0);
	return sigismember(&p, SIGPIPE);
}

static void set_fsize(rlim_t soft, int with_prlimit)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_FSIZE, &rl) == 0);
	rl.rlim_cur = soft;
	if (with_prlimit)
		CHECK(prlimit(0, RLIMIT_FSIZE, &rl, NULL) == 0);
	else
		CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
}

int main(void)
{
	static char buf[3 * LIMIT] __attribute__((aligned(4096)));
	memset(buf, 'w', sizeof buf);

	/* The file size limit, before any AIO call. */
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_FSIZE, &rl) == 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4 * LIMIT)
		skip("RLIMIT_FSIZE hard limit too low");
	set_fsize(LIMIT, 0);

	char path[PATH_MAX];
	int f = tmp_file_flags("fsize", path, 0);
	CHECK(f >= 0);
	one_write("plain write at the limit", f, buf, 100, LIMIT);
	one_write("plain write across the limit", f, buf, LIMIT, LIMIT / 2);
	one_write("plain write below the limit", f, buf, 100, 0);
	int a = open(path, O_WRONLY | O_APPEND);
	CHECK(a >= 0);
	one_write("append at the limit", a, buf, 100, 0);
	int d = open(path, O_RDWR | O_DIRECT);
	if (d >= 0) {
		one_write("O_DIRECT write at the limit", d, buf, 4096, LIMIT);
		one_write("O_DIRECT write past the limit", d, buf, 4096, 2 * LIMIT);
	} else {
		printf("O_DIRECT write at the limit: EFBIG, -1\n");
		printf("O_DIRECT write past the limit: EFBIG, -1\n");
	}

	/* Lifted, then set again, after AIO started. */
	set_fsize(RLIM_INFINITY, 0);
	one_write("write after the limit was lifted", f, buf, 100, 2 * LIMIT);
	set_fsize(LIMIT, 1);
	one_write("write after prlimit set it again", f, buf, 100, 2 * LIMIT + 200);
	if (d >= 0)
		one_write("O_DIRECT write after prlimit", d, buf, 4096, 2 * LIMIT);
	else
		printf("O_DIRECT write after prlimit: EFBIG, -1\n");
	printf("file size: %lld\n", (long long)file_size(f));
	set_fsize(RLIM_INFINITY, 0);

	/* SIGPIPE, default disposition: a pipe and a socket without reader. */
	int p[2];
	CHECK(pipe(p) == 0);
	one_write("pipe, reader alive", p[1], buf, 10, 0);
	close(p[0]);
	one_write("pipe, reader gone", p[1], buf, 10, 0);
	int s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	close(s[0]);
	one_write("socket, reader gone", s[1], buf, 10, 0);

	/* Blocked by the program: nothing left pending. */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	CHECK(pthread_sigmask(SIG_BLOCK, &pipe_set, NULL) == 0);
	one_write("pipe, reader gone, SIGPIPE blocked", p[1], buf, 10, 0);
	printf("SIGPIPE pending afterwards: %s\n", sigpipe_pending() ? "yes" : "no");

	close(p[1]);
	close(s[1]);
	close(a);
	if (d >= 0)
		close(d);
	unlink(path);
	return 0;
}
