/* EIO from a real block device error: a file on an ext4 image whose loop
 * device was shrunk under it (the harness truncates the backing file and
 * runs `losetup -c`), so reading blocks past the new end fails in the block
 * layer with EIO ("attempt to access beyond end of device").
 *
 *   eio prepare FILE      write FILE (24 MiB of pattern 7), fsync, drop its cache
 *   eio check FILE CUT    CUT = the device's new size in bytes
 *
 * check: buffered and O_DIRECT reads of a block past CUT -> EIO; an O_DIRECT
 * write there -> EIO; a buffered write there succeeds (page cache) and the
 * aio_fsync behind it -> EIO; LIO_WAIT over a bad and a good read -> -1/EIO
 * with each member's own result; reads of blocks before CUT and of another
 * file, submitted with them, return the right data. */
#include "faults.h"
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#define VICTIM_SIZE (24 << 20)
#define SEED 7

static void prepare(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	size_t chunk = 1 << 20;
	char *buf = aligned(chunk);
	for (off_t off = 0; off < VICTIM_SIZE; off += chunk) {
		fill_pattern(buf, chunk, SEED, off);
		must_pwrite(fd, buf, chunk, off);
	}
	CHECK(fsync(fd) == 0);
	CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	close(fd);
	printf("~prepared %s\n", path);
}

/* Logical offsets of a block wholly past `cut` and of one wholly before it. */
static void find_blocks(int fd, long long cut, long long *bad, long long *good)
{
	size_t sz = sizeof(struct fiemap) + 256 * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	CHECK(fm != NULL);
	fm->fm_start = 0;
	fm->fm_length = ~0ULL;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = 256;
	CHECK(ioctl(fd, FS_IOC_FIEMAP, fm) == 0);
	*bad = *good = -1;
	for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
		struct fiemap_extent *e = &fm->fm_extents[i];
		long long l = (long long)e->fe_logical, p = (long long)e->fe_physical,
			  n = (long long)e->fe_length;
		printf("~extent logical %lld physical %lld length %lld\n", l, p, n);
		if (*good < 0 && p + 4096 <= cut - 4096)
			*good = l;
		if (*bad < 0 && p + n >= cut + 8192) {
			long long skip = p >= cut ? 0 : (cut - p + 4095) / 4096 * 4096;
			*bad = l + skip + 4096;
		}
	}
	free(fm);
}

static void check(const char *path, long long cut)
{
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	long long bad_off, good_off;
	find_blocks(fd, cut, &bad_off, &good_off);
	if (bad_off < 0)
		skip("no block of the file lies past the cut at %lld", cut);
	if (good_off < 0)
		skip("no block of the file lies before the cut at %lld", cut);
	printf("~bad block at file offset %lld, good block at %lld\n", bad_off, good_off);
	int dfd = open(path, O_RDWR | O_DIRECT);
	CHECK(dfd >= 0);
	int other = tmp_file("eio-other");
	char *obuf = aligned(8192);
	fill_pattern(obuf, 8192, 9, 0);
	must_pwrite(other, obuf, 8192, 0);

	char *b1 = aligned(4096), *b2 = aligned(4096), *b3 = aligned(4096),
	     *b4 = aligned(4096), *b5 = aligned(8192);
	struct aiocb r_bad, d_bad, r_good, d_good, r_other;
	prep(&r_bad, fd, b1, 4096, bad_off, LIO_READ);
	prep(&d_bad, dfd, b2, 4096, bad_off, LIO_READ);
	prep(&r_good, fd, b3, 4096, good_off, LIO_READ);
	prep(&d_good, dfd, b4, 4096, good_off, LIO_READ);
	prep(&r_other, other, b5, 8192, 0, LIO_READ);
	SUBMIT(&r_bad);
	SUBMIT(&r_good);
	SUBMIT(&d_bad);
	SUBMIT(&d_good);
	SUBMIT(&r_other);
	EXPECT_FAILED(&r_bad, EIO);
	EXPECT_FAILED(&d_bad, EIO);
	EXPECT_DONE(&r_good, 4096);
	EXPECT_PATTERN(b3, 4096, SEED, good_off);
	EXPECT_DONE(&d_good, 4096);
	EXPECT_PATTERN(b4, 4096, SEED, good_off);
	EXPECT_DONE(&r_other, 8192);
	EXPECT_PATTERN(b5, 8192, 9, 0);
	printf("read past the device end -> EIO (buffered and O_DIRECT); reads beside it succeed\n");

	struct aiocb l_bad, l_good;
	prep(&l_bad, fd, b1, 4096, bad_off + 4096, LIO_READ);
	prep(&l_good, fd, b3, 4096, good_off, LIO_READ);
	struct aiocb *list[] = { &l_bad, &l_good };
	EXPECT_SYSERR(lio_listio(LIO_WAIT, list, 2, NULL), EIO);
	EXPECT_FAILED(&l_bad, EIO);
	EXPECT_DONE(&l_good, 4096);
	EXPECT_PATTERN(b3, 4096, SEED, good_off);
	printf("lio_listio(LIO_WAIT) over a bad and a good read -> -1/EIO, members EIO and 4096\n");

	struct aiocb dw_bad, w_good;
	fill_pattern(b2, 4096, 11, 0);
	prep(&dw_bad, dfd, b2, 4096, bad_off, LIO_WRITE);
	prep(&w_good, other, obuf, 4096, 8192, LIO_WRITE);
	SUBMIT(&dw_bad);
	SUBMIT(&w_good);
	EXPECT_FAILED(&dw_bad, EIO);
	EXPECT_DONE(&w_good, 4096);
	printf("O_DIRECT write past the device end -> EIO; a write beside it succeeds\n");

	/* Buffered: the write lands in the page cache; writeback fails and
	 * the fsync behind it reports EIO. */
	struct aiocb w_bad, fs, fs_other;
	prep(&w_bad, fd, b2, 4096, bad_off + 8192, LIO_WRITE);
	SUBMIT(&w_bad);
	prep(&fs, fd, NULL, 0, 0, 0);
	EXPECT_OK(aio_fsync(O_SYNC, &fs));
	prep(&fs_other, other, NULL, 0, 0, 0);
	EXPECT_OK(aio_fsync(O_DSYNC, &fs_other));
	EXPECT_DONE(&w_bad, 4096);
	EXPECT_FAILED(&fs, EIO);
	EXPECT_DONE(&fs_other, 0);
	printf("buffered write past the device end succeeds, aio_fsync behind it -> EIO; fsync of another file succeeds\n");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "prepare") == 0)
		prepare(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "check") == 0)
		check(argv[2], atoll(argv[3]));
	else
		FAIL("usage: eio prepare FILE | eio check FILE CUT");
	return 0;
}
