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

	/* A length reaching past the end of the address space (a caller's
	 * wrong aio_nbytes) fails whole with EFAULT, as glibc's pread/pwrite
	 * fail it: three pages mapped, a guard page after them, and nothing
	 * read into the three. */
	char *three = mmap(NULL, 4 * (size_t)page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(three != MAP_FAILED);
	CHECK(mprotect(three + 3 * page, (size_t)page, PROT_NONE) == 0);
	static char big[1 << 20];
	fill_pattern(big, sizeof big, 13, 0);
	must_pwrite(fd, big, sizeof big, 0);
	const size_t huge[2] = { (size_t)SSIZE_MAX / 2, (size_t)SSIZE_MAX };
	for (int i = 0; i < 2; i++) {
		memset(three, 0, 3 * (size_t)page);
		prep(&cb, fd, three, huge[i], 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
		EXPECT_FAILED(&cb, EFAULT);
		int untouched = 1;
		for (long j = 0; j < 3 * page; j++)
			untouched &= three[j] == 0;
		prep(&cb, fd, three, huge[i], 0, LIO_WRITE);
		EXPECT_OK(aio_write(&cb));
		EXPECT_FAILED(&cb, EFAULT);
		printf("length %s past the address space: EFAULT, buffer %s\n",
		       i == 0 ? "SSIZE_MAX/2" : "SSIZE_MAX", untouched ? "untouched" : "WRITTEN");
	}
	must_pread(fd, big, sizeof big, 0);
	EXPECT_PATTERN(big, sizeof big, 13, 0);
	close(fd);
	return 0;
}
