/* EFAULT: requests whose buffer is PROT_NONE, never mapped or a non-canonical
 * address fail with EFAULT through aio_error (buffered file, O_DIRECT file,
 * pipe, socket), each submitted in one lio_listio(LIO_NOWAIT) list with a good
 * request that must succeed; a pipe keeps the data a faulting read could not
 * take, and a socket peer receives nothing from a faulting write. */
#include "faults.h"

static void expect_pair(struct aiocb *bad, struct aiocb *good, ssize_t good_len,
			const char *what)
{
	struct aiocb *list[] = { bad, good };
	EXPECT_OK(lio_listio(LIO_NOWAIT, list, 2, NULL));
	EXPECT_FAILED(bad, EFAULT);
	EXPECT_DONE(good, good_len);
	printf("%s -> EFAULT; the request beside it succeeds\n", what);
}

int main(void)
{
	char *none = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(none != MAP_FAILED);
	/* Never mapped: below vm.mmap_min_addr (an address freed with munmap
	 * could be reused by any later mapping, paio's thread stacks included). */
	char *gone = (char *)0x1000;
	char *kernel = (char *)0xffff800000000000ULL;
	struct { char *p; const char *name; } bads[] = {
		{ none, "PROT_NONE" }, { gone, "unmapped (page 1)" }, { kernel, "non-canonical" },
	};

	int fd = tmp_file("efault");
	char *data = aligned(65536), *good = aligned(65536);
	fill_pattern(data, 65536, 3, 0);
	must_pwrite(fd, data, 65536, 0);
	char path[PATH_MAX];
	int dfd = tmp_file_flags("efault-direct", path, O_DIRECT);
	if (dfd >= 0) {
		CHECK(unlink(path) == 0);
		must_pwrite(dfd, data, 65536, 0);
	} else {
		printf("~O_DIRECT unavailable here: %s\n", strerror(errno));
	}
	char what[128];
	for (unsigned i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct aiocb bad, ok;
		prep(&bad, fd, bads[i].p, 4096, 0, LIO_READ);
		prep(&ok, fd, good, 4096, 4096, LIO_READ);
		snprintf(what, sizeof what, "buffered aio_read into a %s buffer", bads[i].name);
		expect_pair(&bad, &ok, 4096, what);
		EXPECT_PATTERN(good, 4096, 3, 4096);

		prep(&bad, fd, bads[i].p, 4096, 8192, LIO_WRITE);
		prep(&ok, fd, data + 12288, 4096, 12288, LIO_WRITE);
		snprintf(what, sizeof what, "buffered aio_write from a %s buffer", bads[i].name);
		expect_pair(&bad, &ok, 4096, what);

		if (dfd >= 0) {
			prep(&bad, dfd, bads[i].p, 4096, 0, LIO_READ);
			prep(&ok, dfd, good, 4096, 4096, LIO_READ);
			snprintf(what, sizeof what, "O_DIRECT aio_read into a %s buffer", bads[i].name);
			expect_pair(&bad, &ok, 4096, what);
			EXPECT_PATTERN(good, 4096, 3, 4096);
			prep(&bad, dfd, bads[i].p, 4096, 8192, LIO_WRITE);
			prep(&ok, dfd, data + 16384, 4096, 16384, LIO_WRITE);
			snprintf(what, sizeof what, "O_DIRECT aio_write from a %s buffer", bads[i].name);
			expect_pair(&bad, &ok, 4096, what);
		}

		/* A pipe: the faulting read leaves the data for the next one. */
		int p[2];
		CHECK(pipe(p) == 0);
		must_write(p[1], "hello", 5);
		prep(&bad, p[0], bads[i].p, 100, 0, LIO_READ);
		SUBMIT(&bad);
		EXPECT_FAILED(&bad, EFAULT);
		prep(&ok, p[0], good, 100, 0, LIO_READ);
		SUBMIT(&ok);
		EXPECT_DONE(&ok, 5);
		CHECK(memcmp(good, "hello", 5) == 0);
		printf("pipe aio_read into a %s buffer -> EFAULT; the data stays for the next read\n", bads[i].name);

		/* A socket: the peer receives nothing from a faulting write. */
		int s[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
		prep(&bad, s[0], bads[i].p, 100, 0, LIO_WRITE);
		prep(&ok, s[1], "ping", 4, 0, LIO_WRITE);
		snprintf(what, sizeof what, "socket aio_write from a %s buffer", bads[i].name);
		expect_pair(&bad, &ok, 4, what);
		char c;
		errno = 0;
		CHECK(recv(s[1], &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN);
		CHECK(recv(s[0], good, 4, 0) == 4 && memcmp(good, "ping", 4) == 0);
		close(p[0]);
		close(p[1]);
		close(s[0]);
		close(s[1]);
	}
	/* The file holds what the good writes wrote and nothing else. */
	must_pread(fd, good, 65536, 0);
	EXPECT_PATTERN(good, 65536, 3, 0);
	printf("file contents intact\n");
	return 0;
}
