/* Buffers whose page faults the program itself serves (userfaultfd), served
 * by the very thread that submitted, in its loop after the call returns. On
 * glibc a helper thread touches the buffer, waits for the fault, and the
 * loop resolves it; a copy made inside aio_read or aio_write (paio's inline
 * transfer), or an io_submit pinning an O_DIRECT buffer there, would wait
 * for ever in the kernel. Each request: submitted, then the loop resolves
 * every missing page (UFFDIO_COPY of a known pattern) until the request is
 * done; the data is checked. Cached read, write, a read of a pipe with data
 * waiting, O_DIRECT read; then the range is unregistered and a cached read
 * into a fresh mapping of it completes as usual. */
#include "common.h"
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>

#define PAGES 4
#define PAGE 4096
#define LEN (PAGES * PAGE)

static int uffd;
static char pattern[PAGE];

static char *registered_area(void)
{
	char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)p, .len = LEN },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	CHECK(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0);
	return p;
}

/* Serve faults until the request is done (bounded by the watchdog). */
static int serve_until_done(struct aiocb *cb)
{
	int served = 0;
	while (aio_error(cb) == EINPROGRESS) {
		struct pollfd p = { uffd, POLLIN, 0 };
		if (poll(&p, 1, 10) <= 0)
			continue;
		struct uffd_msg m;
		if (read(uffd, &m, sizeof m) != sizeof m || m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_copy c = {
			.dst = m.arg.pagefault.address & ~(unsigned long)(PAGE - 1),
			.src = (unsigned long)pattern,
			.len = PAGE,
		};
		if (ioctl(uffd, UFFDIO_COPY, &c) == 0)
			served++;
	}
	return served;
}

static void report(const char *what, struct aiocb *cb)
{
	int served = serve_until_done(cb);
	int err = aio_error(cb);
	ssize_t ret = aio_return(cb);
	printf("%s: %s %zd\n", what, errname(err), ret);
	printf("~ %s: %d faults served\n", what, served);
}

int main(void)
{
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		printf("SKIP: userfaultfd: %s\n", strerror(errno));
		return 77;
	}
	struct uffdio_api api = { .api = UFFD_API };
	CHECK(ioctl(uffd, UFFDIO_API, &api) == 0);
	memset(pattern, 'Z', sizeof pattern);

	char path[PATH_MAX];
	int fd = tmp_file_flags("userfault", path, 0);
	CHECK(fd >= 0);
	static char data[LEN];
	for (int i = 0; i < LEN; i++)
		data[i] = (char)('a' + i % 23);
	CHECK(pwrite(fd, data, LEN, 0) == LEN);
	CHECK(fsync(fd) == 0);
	char scratch[LEN];
	CHECK(pread(fd, scratch, LEN, 0) == LEN); /* cached */

	struct aiocb cb;
	char *buf = registered_area();
	prep(&cb, fd, buf, LEN, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	report("cached read", &cb);
	printf("cached read data: %s\n", memcmp(buf, data, LEN) == 0 ? "ok" : "WRONG");

	char *src = registered_area();
	prep(&cb, fd, src, LEN, LEN, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	report("write", &cb);
	CHECK(pread(fd, scratch, LEN, LEN) == LEN);
	int same = 1;
	for (int i = 0; i < LEN; i++)
		same &= scratch[i] == 'Z';
	printf("written data: %s\n", same ? "ok" : "WRONG");

	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "through the pipe", 16) == 16);
	char *pbuf = registered_area();
	prep(&cb, p[0], pbuf, LEN, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	report("pipe read", &cb);
	printf("pipe data: %s\n", memcmp(pbuf, "through the pipe", 16) == 0 ? "ok" : "WRONG");

	char dpath[PATH_MAX];
	int dfd = tmp_file_flags("userfault-direct", dpath, O_DIRECT);
	if (dfd >= 0) {
		char *aligned;
		CHECK(posix_memalign((void **)&aligned, PAGE, LEN) == 0);
		memcpy(aligned, data, LEN);
		CHECK(pwrite(dfd, aligned, LEN, 0) == LEN);
		char *dbuf = registered_area();
		prep(&cb, dfd, dbuf, LEN, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
		report("direct read", &cb);
		printf("direct data: %s\n", memcmp(dbuf, data, LEN) == 0 ? "ok" : "WRONG");
		free(aligned);
		close(dfd);
		unlink(dpath);
	} else {
		printf("direct read: O_DIRECT refused here (%s)\n", errname(errno));
	}

	/* Let go of one range: a read into it completes as any other. */
	struct uffdio_range range = { .start = (unsigned long)buf, .len = LEN };
	CHECK(ioctl(uffd, UFFDIO_UNREGISTER, &range) == 0);
	CHECK(munmap(buf, LEN) == 0);
	CHECK(mmap(buf, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == buf);
	prep(&cb, fd, buf, LEN, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, LEN);
	printf("after unregister: %s\n", memcmp(buf, data, LEN) == 0 ? "ok" : "WRONG");

	unlink(path);
	printf("done\n");
	return 0;
}
