/* A buffer the process cannot access fails through aio_error with EFAULT, for
 * reads and for writes, and does not crash the process. The page is mapped
 * PROT_NONE rather than munmap'ed: an munmap'ed address can be handed out again
 * (to a new thread's stack, say) before the request runs. */
#include "common.h"

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)page, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);

	int fd = tmp_file("efault");
	char data[4096];
	fill_pattern(data, sizeof data, 12, 0);
	must_pwrite(fd, data, sizeof data, 0);

	struct aiocb cb;
	prep(&cb, fd, p, 512, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_FAILED(&cb, EFAULT);
	prep(&cb, fd, p, 512, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	EXPECT_FAILED(&cb, EFAULT);
	/* The file is unchanged. */
	char back[4096];
	must_pread(fd, back, sizeof back, 0);
	EXPECT_PATTERN(back, sizeof back, 12, 0);
	printf("unmapped buffer -> EFAULT\n");
	close(fd);
	return 0;
}
