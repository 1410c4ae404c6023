/* matrix: filesystems */
/* Buffered regular file: lio_listio writes, a sparse extending write, both
 * fsyncs, reads back (whole, at EOF, across EOF), O_APPEND; the file
 * position never moves. */
#include "matrix.h"

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	char path[PATH_MAX];
	int fd = tmp_file_flags("buffered", path, 0);
	CHECK(fd >= 0);
	enum { CHUNK = 65536, N = 3 };
	static char wbuf[N][CHUNK], rbuf[N * CHUNK];
	struct aiocb cbs[N], *list[N];
	for (int i = 0; i < N; i++) {
		fill_pattern(wbuf[i], CHUNK, 7, (long long)i * CHUNK);
		prep(&cbs[i], fd, wbuf[i], CHUNK, (off_t)i * CHUNK, LIO_WRITE);
		list[i] = &cbs[i];
	}
	printf("lio_listio write: %d\n", lio_listio(LIO_WAIT, list, N, NULL));
	for (int i = 0; i < N; i++)
		printf("write %d: %s\n", i, finish(&cbs[i], "write"));
	one("write at 1 MiB", LIO_WRITE, fd, wbuf[0], 100, 1 << 20);
	one("fsync O_SYNC", O_SYNC, fd, NULL, 0, 0);
	one("fsync O_DSYNC", O_DSYNC, fd, NULL, 0, 0);
	printf("size: %lld\n", (long long)file_size(fd));
	one("read all", LIO_READ, fd, rbuf, sizeof rbuf, 0);
	printf("data: %s\n", find_mismatch(rbuf, sizeof rbuf, 7, 0) < 0 ? "ok" : "WRONG");
	one("read hole", LIO_READ, fd, rbuf, 4096, 512 * 1024);
	int zeros = 1;
	for (int i = 0; i < 4096; i++)
		zeros &= rbuf[i] == 0;
	printf("hole reads zeros: %s\n", zeros ? "yes" : "no");
	one("read across EOF", LIO_READ, fd, rbuf, 4096, (1 << 20) + 50);
	one("read at EOF", LIO_READ, fd, rbuf, 4096, (1 << 20) + 100);
	one("read past EOF", LIO_READ, fd, rbuf, 4096, 8 << 20);
	print_pos("file", fd);
	close(fd);

	int afd = tmp_file_flags("append", path, O_APPEND);
	CHECK(afd >= 0);
	must_write(afd, "head", 4);
	one("append write at offset 0", LIO_WRITE, afd, "tail", 4, 0);
	char back[16] = { 0 };
	must_pread(afd, back, 8, 0);
	printf("append file: %.8s size %lld\n", back, (long long)file_size(afd));
	print_pos("append file", afd);
	close(afd);
	return 0;
}
