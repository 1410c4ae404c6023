/* With the common soft limit of 1024 open files, 4,000 requests queued on
 * one file are all accepted and completed (glibc accepts them): the
 * reference each queued request keeps to its file must not cost a
 * descriptor per request. */
#include <sys/resource.h>
#include "common.h"

#define N 4000
#define SZ 512

int main(void)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max < 1024)
		skip("hard limit on open files below 1024");
	rl.rlim_cur = 1024;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);

	int fd = tmp_file("fdlimit");
	static char src[N * SZ], dst[N * SZ];
	fill_pattern(src, sizeof src, 31, 0);
	static struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, src + (size_t)i * SZ, SZ, (off_t)i * SZ, LIO_WRITE);
		errno = 0;
		if (aio_write(&cbs[i]) != 0)
			FAIL("aio_write #%d: %s", i, errname(errno));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], SZ);
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, dst + (size_t)i * SZ, SZ, (off_t)i * SZ, LIO_READ);
		errno = 0;
		if (aio_read(&cbs[i]) != 0)
			FAIL("aio_read #%d: %s", i, errname(errno));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], SZ);
	EXPECT_PATTERN(dst, sizeof dst, 31, 0);
	printf("%d writes and %d reads queued under a 1024-descriptor limit, verified\n", N, N);
	close(fd);
	return 0;
}
