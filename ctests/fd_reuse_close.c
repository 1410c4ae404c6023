/* Closing an fd with writes still queued and reusing the number must not
 * redirect them (sourceware bug 14942). aio_threads = 1 and the only worker
 * blocked on an empty-pipe read; writes are submitted to file A; A's fd is
 * closed; file B opens on the same number; then the pipe is fed. paio: the
 * data ends up in A (the request holds its own reference to the file) and B
 * stays empty. glibc writes into B: an intentional difference, printed. */
#include "common.h"

#define N 4
#define SZ 256

int main(void)
{
	struct aioinit init;
	memset(&init, 0, sizeof init);
	init.aio_threads = 1;
	aio_init(&init);

	int p[2];
	CHECK(pipe(p) == 0);
	char pb[4];
	struct aiocb blocker;
	prep(&blocker, p[0], pb, sizeof pb, 0, LIO_READ);
	EXPECT_OK(aio_read(&blocker));
	let_worker_start();

	char path_a[PATH_MAX], path_b[PATH_MAX];
	int a = tmp_file_flags("reuseA", path_a, 0);
	CHECK(a >= 0);
	static char bufs[N][SZ];
	struct aiocb w[N];
	for (int i = 0; i < N; i++) {
		fill_pattern(bufs[i], SZ, 25, (long long)i * SZ);
		prep(&w[i], a, bufs[i], SZ, (off_t)i * SZ, LIO_WRITE);
		EXPECT_OK(aio_write(&w[i]));
	}
	CHECK(close(a) == 0);
	int b = tmp_file_flags("reuseB", path_b, 0);
	CHECK(b >= 0);
	EXPECT_EQ(b, a); /* the number was reused */

	must_write(p[1], "go", 2);
	EXPECT_DONE(&blocker, 2);
	int errs[N];
	for (int i = 0; i < N; i++)
		errs[i] = wait_done(&w[i]);

	int ra = open(path_a, O_RDONLY);
	CHECK(ra >= 0);
	off_t size_a = file_size(ra), size_b = file_size(b);
	if (is_paio()) {
		for (int i = 0; i < N; i++) {
			EXPECT_ERRNO(errs[i], 0);
			EXPECT_EQ(aio_return(&w[i]), SZ);
		}
		EXPECT_EQ(size_b, 0);
		EXPECT_EQ(size_a, N * SZ);
		static char back[N * SZ];
		must_pread(ra, back, sizeof back, 0);
		EXPECT_PATTERN(back, sizeof back, 25, 0);
		printf("fd reuse: data in A only, B empty\n");
	} else {
		printf("glibc: A has %lld bytes, B has %lld bytes, first write %s\n",
		       (long long)size_a, (long long)size_b, errname(errs[0]));
	}
	close(ra);
	close(b);
	unlink(path_a);
	unlink(path_b);
	return 0;
}
