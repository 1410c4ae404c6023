/* O_DIRECT aligned aio_writes that extend the file, all in flight at once and
 * submitted out of order, some leaving a hole behind them: afterwards the
 * file has the size of the highest end, every block holds what was written
 * there, and the hole reads as zeros — through O_DIRECT aio_reads and
 * through a buffered descriptor (pread and aio_read).
 *
 * Extending direct writes are a special case in the kernel (ext4 completes
 * them under the inode lock and updates i_size at the end; with RWF_NOWAIT
 * they fail with EAGAIN), so they are worth their own scenario apart from
 * odirect_rw's overwrites. Skipped where the filesystem refuses O_DIRECT. */
#include "common.h"

#define ALIGN 4096
#define BLOCK (64 << 10)
#define N 16           /* writes in flight, one block each */
#define GAP_BLOCKS 8   /* the last write lands this far past the others */
#define SEED 42

/* Block index of write i: a scattered order over 0..N-2, and the last one
 * far beyond, so the file grows past a hole. */
static int block_of(int i)
{
	return i == N - 1 ? N - 1 + GAP_BLOCKS : (i * 7) % (N - 1);
}

/* Fail with the first offset where got differs from want. */
static void expect_same(const unsigned char *got, const unsigned char *want,
			size_t len, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			FAIL("%s: byte at offset %zu is 0x%02x, expected 0x%02x",
			     what, i, got[i], want[i]);
}

int main(void)
{
	char path[PATH_MAX];
	int dfd = tmp_file_flags("odext", path, O_DIRECT);
	if (dfd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	const off_t size = (off_t)(N + GAP_BLOCKS) * BLOCK;
	unsigned char *wbuf, *rbuf;
	CHECK(posix_memalign((void **)&wbuf, ALIGN, (size_t)size) == 0);
	CHECK(posix_memalign((void **)&rbuf, ALIGN, (size_t)size) == 0);
	fill_pattern(wbuf, (size_t)size, SEED, 0);

	/* Probe on a throwaway file: does a direct write work here at all? */
	{
		char probe_path[PATH_MAX];
		int probe = tmp_file_flags("odext-probe", probe_path, O_DIRECT);
		CHECK(probe >= 0);
		unlink(probe_path);
		if (pwrite(probe, wbuf, ALIGN, 0) != ALIGN)
			skip("O_DIRECT pwrite refused: %s", strerror(errno));
		close(probe);
	}
	EXPECT_EQ(file_size(dfd), 0);

	struct aiocb w[N];
	for (int i = 0; i < N; i++) {
		off_t off = (off_t)block_of(i) * BLOCK;
		prep(&w[i], dfd, wbuf + off, BLOCK, off, LIO_WRITE);
		EXPECT_OK(aio_write(&w[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&w[i], BLOCK);
	EXPECT_EQ(file_size(dfd), size);
	printf("%d extending O_DIRECT writes in flight: size %lld\n", N,
	       (long long)size);

	/* What the file must hold: the written blocks, zeros in the hole. */
	static unsigned char expect[(N + GAP_BLOCKS) * BLOCK];
	memset(expect, 0, sizeof expect);
	for (int i = 0; i < N; i++) {
		off_t off = (off_t)block_of(i) * BLOCK;
		memcpy(expect + off, wbuf + off, BLOCK);
	}

	/* O_DIRECT aio_reads, one per block, all in flight. */
	const int nblocks = N + GAP_BLOCKS;
	struct aiocb r[N + GAP_BLOCKS];
	memset(rbuf, 0xee, (size_t)size);
	for (int b = 0; b < nblocks; b++) {
		prep(&r[b], dfd, rbuf + (size_t)b * BLOCK, BLOCK, (off_t)b * BLOCK, LIO_READ);
		EXPECT_OK(aio_read(&r[b]));
	}
	for (int b = 0; b < nblocks; b++)
		EXPECT_DONE(&r[b], BLOCK);
	expect_same(rbuf, expect, (size_t)size, "O_DIRECT aio_read");
	/* Past the end: a direct read there returns 0. */
	struct aiocb past;
	prep(&past, dfd, rbuf, BLOCK, size, LIO_READ);
	EXPECT_OK(aio_read(&past));
	EXPECT_DONE(&past, 0);
	printf("O_DIRECT read-back ok (hole reads as zeros, EOF read 0)\n");

	/* A buffered descriptor of the same file sees the same bytes. */
	int bfd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(bfd >= 0);
	CHECK(unlink(path) == 0);
	memset(rbuf, 0xee, (size_t)size);
	must_pread(bfd, rbuf, (size_t)size, 0);
	expect_same(rbuf, expect, (size_t)size, "buffered pread");
	memset(rbuf, 0xee, (size_t)size);
	struct aiocb whole;
	prep(&whole, bfd, rbuf, (size_t)size, 0, LIO_READ);
	EXPECT_OK(aio_read(&whole));
	EXPECT_DONE(&whole, size);
	expect_same(rbuf, expect, (size_t)size, "buffered aio_read");
	printf("buffered read-back ok\n");

	free(wbuf);
	free(rbuf);
	close(bfd);
	close(dfd);
	return 0;
}
