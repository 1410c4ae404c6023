/* ENOSPC: writes to a full tmpfs (mounted by the harness, size=1m) fail with
 * ENOSPC through aio_error, buffered and O_DIRECT, alone and inside a
 * lio_listio list, while reads of the full file and writes elsewhere submitted
 * with them succeed; once space is freed the same write succeeds.
 * Usage: enospc SMALL_TMPFS_DIR */
#include "faults.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		FAIL("usage: enospc SMALL_TMPFS_DIR");
	char path[PATH_MAX], path2[PATH_MAX];
	snprintf(path, sizeof path, "%s/full", argv[1]);
	snprintf(path2, sizeof path2, "%s/new", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	char *block = aligned(4096);
	fill_pattern(block, 4096, 1, 0);
	off_t off = 0;
	for (;;) {
		ssize_t r = pwrite(fd, block, 4096, off);
		if (r > 0) {
			off += r;
			continue;
		}
		if (r < 0 && errno == ENOSPC)
			break;
		FAIL("filling the tmpfs: pwrite = %zd (%s)", r, strerror(errno));
	}
	printf("~filled %lld bytes\n", (long long)off);
	off_t hole = (off + 4096 - 1) / 4096 * 4096 + 16 * 4096;
	int fd2 = open(path2, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd2 >= 0);
	int ok = tmp_file("enospc-ok");
	char *wbuf = aligned(65536), *rbuf = aligned(4096), *okbuf = aligned(65536);
	fill_pattern(wbuf, 65536, 2, 0);

	/* Two faulty writes with good requests around them. */
	struct aiocb bad, bad_new, good_w, full_r;
	prep(&bad, fd, block, 4096, hole, LIO_WRITE);
	prep(&good_w, ok, wbuf, 65536, 0, LIO_WRITE);
	prep(&bad_new, fd2, block, 4096, 0, LIO_WRITE);
	prep(&full_r, fd, rbuf, 4096, 4096, LIO_READ);
	SUBMIT(&bad);
	SUBMIT(&good_w);
	SUBMIT(&bad_new);
	SUBMIT(&full_r);
	EXPECT_FAILED(&bad, ENOSPC);
	EXPECT_FAILED(&bad_new, ENOSPC);
	EXPECT_DONE(&good_w, 65536);
	EXPECT_DONE(&full_r, 4096);
	EXPECT_PATTERN(rbuf, 4096, 1, 0);
	must_pread(ok, okbuf, 65536, 0);
	EXPECT_PATTERN(okbuf, 65536, 2, 0);
	printf("aio_write to a full tmpfs -> ENOSPC; read of the full file and write elsewhere succeed\n");

	/* In a list: LIO_WAIT reports EIO, each member its own result. */
	struct aiocb l_bad, l_good;
	prep(&l_bad, fd, block, 4096, hole + 4096, LIO_WRITE);
	prep(&l_good, ok, wbuf, 65536, 65536, LIO_WRITE);
	struct aiocb *list[] = { &l_bad, &l_good };
	EXPECT_SYSERR(lio_listio(LIO_WAIT, list, 2, NULL), EIO);
	EXPECT_FAILED(&l_bad, ENOSPC);
	EXPECT_DONE(&l_good, 65536);
	printf("lio_listio(LIO_WAIT) with a write to the full tmpfs -> -1/EIO, members ENOSPC and 65536\n");

	/* O_DIRECT where tmpfs offers it (Linux >= 6.6). */
	int dfd = open(path, O_RDWR | O_DIRECT);
	if (dfd >= 0) {
		struct aiocb d_bad, d_read;
		prep(&d_bad, dfd, block, 4096, hole + 8192, LIO_WRITE);
		prep(&d_read, dfd, rbuf, 4096, 0, LIO_READ);
		SUBMIT(&d_bad);
		SUBMIT(&d_read);
		EXPECT_FAILED(&d_bad, ENOSPC);
		EXPECT_DONE(&d_read, 4096);
		EXPECT_PATTERN(rbuf, 4096, 1, 0);
		printf("O_DIRECT aio_write to a full tmpfs -> ENOSPC; O_DIRECT read beside it succeeds\n");
	} else {
		printf("~O_DIRECT on tmpfs: %s (part skipped)\n", strerror(errno));
	}

	/* fsync on the full filesystem is fine. */
	struct aiocb fs;
	prep(&fs, fd, NULL, 0, 0, 0);
	EXPECT_OK(aio_fsync(O_SYNC, &fs));
	EXPECT_DONE(&fs, 0);

	/* Free space: the same write now succeeds. */
	CHECK(ftruncate(fd, 0) == 0);
	prep(&bad, fd, block, 4096, hole, LIO_WRITE);
	SUBMIT(&bad);
	EXPECT_DONE(&bad, 4096);
	printf("after freeing space the same aio_write succeeds\n");
	return 0;
}
