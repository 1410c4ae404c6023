/* fork() with requests in flight: the child starts clean, uses AIO on its own
 * file (write, fsync, read, lio_listio, suspend) successfully and exits 0; the
 * parent's requests (a read blocked on a pipe, writes) complete afterwards.
 *
 * Intentional difference: glibc 2.36 has no fork handler for its AIO lock, so
 * a child forked while a worker holds __aio_requests_mutex deadlocks in its
 * first aio_write (about a third of runs here). Under glibc the child's fate
 * is printed, not judged. */
#include "common.h"

#define SZ 4096

static void child(void)
{
	alarm(is_paio() ? 10 : 3);
	int fd = tmp_file("forkchild");
	static char src[SZ], dst[SZ];
	fill_pattern(src, SZ, 27, 0);
	struct aiocb w, s, r;
	prep(&w, fd, src, SZ, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	EXPECT_DONE(&w, SZ);
	prep(&s, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &s));
	EXPECT_EQ(wait_done(&s), 0);
	prep(&r, fd, dst, SZ, 0, LIO_READ);
	EXPECT_OK(aio_read(&r));
	EXPECT_DONE(&r, SZ);
	EXPECT_PATTERN(dst, SZ, 27, 0);
	struct aiocb *list[2] = { &w, &r };
	prep(&w, fd, src, SZ, SZ, LIO_WRITE);
	prep(&r, fd, dst, SZ, 0, LIO_READ);
	EXPECT_OK(lio_listio(LIO_WAIT, list, 2, NULL));
	EXPECT_EQ(aio_return(&w), SZ);
	EXPECT_EQ(aio_return(&r), SZ);
	/* A request blocked in the child, released by the child. */
	int p[2];
	CHECK(pipe(p) == 0);
	char c;
	struct aiocb pr;
	prep(&pr, p[0], &c, 1, 0, LIO_READ);
	EXPECT_OK(aio_read(&pr));
	must_write(p[1], "c", 1);
	EXPECT_DONE(&pr, 1);
	close(fd);
	exit(0); /* through atexit handlers: must not hang */
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	char pb[4];
	struct aiocb blocked;
	prep(&blocked, p[0], pb, sizeof pb, 0, LIO_READ);
	EXPECT_OK(aio_read(&blocked));

	int fd = tmp_file("forkparent");
	static char bufs[8][SZ];
	struct aiocb w[8];
	for (int i = 0; i < 8; i++) {
		fill_pattern(bufs[i], SZ, 26, (long long)i * SZ);
		prep(&w[i], fd, bufs[i], SZ, (off_t)i * SZ, LIO_WRITE);
		EXPECT_OK(aio_write(&w[i]));
	}

	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		child();

	int status;
	long long deadline = now_ms() + 15000;
	pid_t got;
	while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			FAIL("child did not exit");
		}
		sleep_ms(2);
	}
	CHECK(got == pid);
	if (is_paio()) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("child ended with status 0x%x", status);
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		printf("glibc: child hung (deadlocked on the AIO lock)\n");
	} else {
		printf("glibc: child status 0x%x\n", status);
	}

	EXPECT_ERRNO(aio_error(&blocked), EINPROGRESS);
	must_write(p[1], "par", 3);
	EXPECT_DONE(&blocked, 3);
	for (int i = 0; i < 8; i++)
		EXPECT_DONE(&w[i], SZ);
	static char back[8 * SZ];
	must_pread(fd, back, sizeof back, 0);
	EXPECT_PATTERN(back, sizeof back, 26, 0);
	if (is_paio())
		printf("fork: child used AIO and exited 0, parent's requests completed\n");
	else
		printf("glibc: parent's requests completed\n");
	close(fd);
	return 0;
}
