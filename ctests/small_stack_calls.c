/* AIO calls from a thread with the smallest stack the C library allows
 * (PTHREAD_STACK_MIN, 16 KiB here). glibc's calls only queue work for its
 * own threads; paio's run transfers in the calling thread (a cached read or
 * write, the first try of a pipe read), which must fit there too. The
 * process's first AIO call is made from main (one-time set-up runs on a
 * normal stack); then one small-stack thread per kind of call: cached
 * aio_read and aio_write, vectored-free lio_listio(LIO_WAIT), an uncached
 * read, a pipe read with data waiting, aio_fsync, and aio_cancel of a pipe
 * read that waits (fed if it could not be cancelled); each thread waits
 * with aio_suspend and reports. */
#include "common.h"

#define LEN 4096

static int fd;
static int pipefd[2];

static void finish(const char *what, struct aiocb *cb)
{
	const struct aiocb *list[] = { cb };
	while (aio_error(cb) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	int err = aio_error(cb);
	ssize_t ret = aio_return(cb);
	printf("%s: %s %zd\n", what, errname(err), ret);
}

static void *body(void *arg)
{
	const char *kind = arg;
	static char buf[LEN];
	struct aiocb cb;
	if (strcmp(kind, "read") == 0) {
		prep(&cb, fd, buf, LEN, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
	} else if (strcmp(kind, "write") == 0) {
		prep(&cb, fd, buf, LEN, LEN, LIO_WRITE);
		EXPECT_OK(aio_write(&cb));
	} else if (strcmp(kind, "lio") == 0) {
		prep(&cb, fd, buf, LEN, 0, LIO_READ);
		struct aiocb *list[] = { &cb };
		EXPECT_OK(lio_listio(LIO_WAIT, list, 1, NULL));
	} else if (strcmp(kind, "uncached") == 0) {
		CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
		prep(&cb, fd, buf, LEN, 8 * LEN, LIO_READ);
		EXPECT_OK(aio_read(&cb));
	} else if (strcmp(kind, "pipe") == 0) {
		CHECK(write(pipefd[1], "small stack", 11) == 11);
		prep(&cb, pipefd[0], buf, LEN, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
	} else if (strcmp(kind, "fsync") == 0) {
		prep(&cb, fd, NULL, 0, 0, LIO_NOP);
		EXPECT_OK(aio_fsync(O_DSYNC, &cb));
	} else {
		/* A pipe read with nothing to read yet: cancelled, or (where it
		 * already waits in the kernel or on a thread) fed so it ends. */
		prep(&cb, pipefd[0], buf, LEN, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
		int r = aio_cancel(pipefd[0], &cb);
		CHECK(r == AIO_CANCELED || r == AIO_NOTCANCELED);
		printf("~ cancel: %s\n", r == AIO_CANCELED ? "AIO_CANCELED" : "AIO_NOTCANCELED");
		if (r == AIO_NOTCANCELED)
			CHECK(write(pipefd[1], "late", 4) == 4);
		const struct aiocb *list[] = { &cb };
		while (aio_error(&cb) == EINPROGRESS)
			aio_suspend(list, 1, NULL);
		int err = aio_error(&cb);
		CHECK(err == ECANCELED || (err == 0 && aio_return(&cb) == 4));
		printf("cancel: ended\n");
		return NULL;
	}
	finish(kind, &cb);
	return NULL;
}

int main(void)
{
	char path[PATH_MAX];
	fd = tmp_file_flags("small-stack", path, 0);
	CHECK(fd >= 0);
	unlink(path);
	static char data[16 * LEN];
	memset(data, 'x', sizeof data);
	CHECK(pwrite(fd, data, sizeof data, 0) == (ssize_t)sizeof data);
	CHECK(fsync(fd) == 0);
	CHECK(pipe(pipefd) == 0);

	/* The first call, from main. */
	struct aiocb warm;
	static char buf[LEN];
	prep(&warm, fd, buf, LEN, 0, LIO_READ);
	EXPECT_OK(aio_read(&warm));
	finish("main", &warm);

	const char *kinds[] = { "read", "write", "lio", "uncached", "pipe", "fsync", "cancel" };
	pthread_attr_t attr;
	CHECK(pthread_attr_init(&attr) == 0);
	CHECK(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN) == 0);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		pthread_t t;
		CHECK(pthread_create(&t, &attr, body, (void *)kinds[i]) == 0);
		CHECK(pthread_join(t, NULL) == 0);
	}
	printf("~ stack %zu bytes\n", (size_t)PTHREAD_STACK_MIN);
	printf("done\n");
	return 0;
}
