/* fork() while the parent has requests in flight in the kernel: O_DIRECT
 * reads (kernel AIO under paio's default backend) and a read pending on an
 * empty pipe (an IOCB_CMD_POLL there). The child starts with no AIO state
 * (kernel AIO contexts are not inherited by fork), uses AIO on its own files
 * — buffered write and read, O_DIRECT write and read — successfully and
 * exits 0; the parent's direct reads all complete with the right bytes (the
 * kernel copies pages pinned for I/O at fork rather than sharing them
 * copy-on-write), and its pipe read completes once the parent writes.
 *
 * fork_child covers buffered requests on the worker pool at fork; this one
 * the kernel side. Intentional difference, as in fork_child: glibc 2.36 has
 * no fork handler for its AIO lock, so its child may deadlock in its first
 * AIO call; under glibc the child's fate is printed, not judged. Skipped
 * where the filesystem refuses O_DIRECT. */
#include "common.h"

#define ALIGN 4096
#define BLOCK (256 << 10)
#define NREAD 16
#define SEED_PARENT 48
#define SEED_CHILD 49

static void child(void)
{
	alarm(is_paio() ? 10 : 3);
	/* Buffered: write, read back. */
	int fd = tmp_file("forkinfl-child");
	static char src[8192], dst[8192];
	aio_write_read_back(fd, src, dst, sizeof src, SEED_CHILD);
	close(fd);

	/* O_DIRECT: several writes in flight, fsync, reads in flight. */
	char path[PATH_MAX];
	int dfd = tmp_file_flags("forkinfl-childd", path, O_DIRECT);
	CHECK(dfd >= 0);
	CHECK(unlink(path) == 0);
	unsigned char *wb, *rb;
	CHECK(posix_memalign((void **)&wb, ALIGN, 4 * ALIGN) == 0);
	CHECK(posix_memalign((void **)&rb, ALIGN, 4 * ALIGN) == 0);
	fill_pattern(wb, 4 * ALIGN, SEED_CHILD, 0);
	CHECK(ftruncate(dfd, 4 * ALIGN) == 0);
	struct aiocb dw[4], dr[4], s;
	for (int i = 0; i < 4; i++) {
		prep(&dw[i], dfd, wb + i * ALIGN, ALIGN, (off_t)i * ALIGN, LIO_WRITE);
		EXPECT_OK(aio_write(&dw[i]));
	}
	prep(&s, dfd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &s));
	for (int i = 0; i < 4; i++)
		EXPECT_DONE(&dw[i], ALIGN);
	EXPECT_EQ(wait_done(&s), 0);
	memset(rb, 0, 4 * ALIGN);
	for (int i = 0; i < 4; i++) {
		prep(&dr[i], dfd, rb + i * ALIGN, ALIGN, (off_t)i * ALIGN, LIO_READ);
		EXPECT_OK(aio_read(&dr[i]));
	}
	for (int i = 0; i < 4; i++)
		EXPECT_DONE(&dr[i], ALIGN);
	EXPECT_PATTERN(rb, 4 * ALIGN, SEED_CHILD, 0);
	close(dfd);
	exit(0); /* through atexit handlers: must not hang */
}

int main(void)
{
	char path[PATH_MAX];
	int dfd = tmp_file_flags("forkinfl", path, O_DIRECT);
	if (dfd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	CHECK(unlink(path) == 0);
	unsigned char *data, *rbuf;
	CHECK(posix_memalign((void **)&data, ALIGN, (size_t)NREAD * BLOCK) == 0);
	CHECK(posix_memalign((void **)&rbuf, ALIGN, (size_t)NREAD * BLOCK) == 0);
	fill_pattern(data, (size_t)NREAD * BLOCK, SEED_PARENT, 0);
	ssize_t wr = pwrite(dfd, data, (size_t)NREAD * BLOCK, 0);
	if (wr < 0)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));
	EXPECT_EQ(wr, (ssize_t)NREAD * BLOCK);
	CHECK(fsync(dfd) == 0);
	memset(rbuf, 0, (size_t)NREAD * BLOCK);

	int p[2];
	CHECK(pipe(p) == 0);
	char pb[4];
	struct aiocb piped;
	prep(&piped, p[0], pb, sizeof pb, 0, LIO_READ);
	EXPECT_OK(aio_read(&piped));

	struct aiocb r[NREAD];
	for (int i = 0; i < NREAD; i++) {
		prep(&r[i], dfd, rbuf + (size_t)i * BLOCK, BLOCK, (off_t)i * BLOCK, LIO_READ);
		EXPECT_OK(aio_read(&r[i]));
	}

	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		child();
	int in_flight = 0;
	for (int i = 0; i < NREAD; i++)
		in_flight += aio_error(&r[i]) == EINPROGRESS;
	printf("~ %d of %d direct reads still in flight just after fork\n",
	       in_flight, NREAD);

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

	for (int i = 0; i < NREAD; i++)
		EXPECT_DONE(&r[i], BLOCK);
	EXPECT_PATTERN(rbuf, (size_t)NREAD * BLOCK, SEED_PARENT, 0);
	EXPECT_ERRNO(aio_error(&piped), EINPROGRESS);
	must_write(p[1], "par", 3);
	EXPECT_DONE(&piped, 3);
	if (memcmp(pb, "par", 3) != 0)
		FAIL("pipe read got other bytes");
	printf("fork with direct and pipe reads in flight: child used AIO and "
	       "exited %s, parent's requests completed\n",
	       is_paio() ? "0" : "(see above)");
	free(data);
	free(rbuf);
	close(dfd);
	return 0;
}
