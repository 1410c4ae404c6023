/* matrix: filesystems */
/* O_DIRECT regular file: aligned writes and reads, an extending write, a
 * misaligned request, reads at and past EOF. Where the filesystem refuses
 * O_DIRECT (ramfs: EINVAL) that is what both implementations print. */
#include "matrix.h"

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	char path[PATH_MAX];
	int fd = tmp_file_flags("direct", path, O_DIRECT);
	if (fd < 0) {
		/* The same file without O_DIRECT still gets a request. */
		printf("open O_DIRECT: %s\n", ename(errno));
		fd = tmp_file_flags("buffered", path, 0);
		CHECK(fd >= 0);
		one("buffered write instead", LIO_WRITE, fd, "data", 4, 0);
		close(fd);
		return 0;
	}
	enum { BS = 4096, N = 8 };
	unsigned char *buf;
	CHECK(posix_memalign((void **)&buf, BS, BS * N) == 0);
	fill_pattern(buf, BS * N, 11, 0);
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, buf + i * BS, BS, (off_t)i * BS, LIO_WRITE);
		CHECK(aio_write(&cbs[i]) == 0);
	}
	for (int i = 0; i < N; i++)
		printf("write %d: %s\n", i, finish(&cbs[i], "write"));
	printf("size: %lld\n", (long long)file_size(fd));
	memset(buf, 0, BS * N);
	for (int i = N - 1; i >= 0; i--) {
		prep(&cbs[i], fd, buf + i * BS, BS, (off_t)i * BS, LIO_READ);
		CHECK(aio_read(&cbs[i]) == 0);
	}
	for (int i = 0; i < N; i++)
		printf("read %d: %s\n", i, finish(&cbs[i], "read"));
	printf("data: %s\n", find_mismatch(buf, BS * N, 11, 0) < 0 ? "ok" : "WRONG");
	one("extending write", LIO_WRITE, fd, buf, BS, (off_t)BS * (N + 2));
	printf("size: %lld\n", (long long)file_size(fd));
	one("misaligned buffer read", LIO_READ, fd, buf + 1, BS, 0);
	one("misaligned offset read", LIO_READ, fd, buf, BS, 1);
	one("read at EOF", LIO_READ, fd, buf, BS, (off_t)BS * (N + 3));
	one("read past EOF", LIO_READ, fd, buf, BS, (off_t)BS * 100);
	one("fsync", O_SYNC, fd, NULL, 0, 0);
	print_pos("file", fd);
	/* The same file through a buffered descriptor sees the data. */
	int bfd = open(path, O_RDONLY);
	CHECK(bfd >= 0);
	static unsigned char plain[BS];
	one("buffered read of direct data", LIO_READ, bfd, plain, BS, BS);
	printf("data: %s\n", find_mismatch(plain, BS, 11, BS) < 0 ? "ok" : "WRONG");
	close(bfd);
	close(fd);
	unlink(path);
	return 0;
}
