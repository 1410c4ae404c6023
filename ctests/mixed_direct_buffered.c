/* An O_DIRECT descriptor and a buffered descriptor of the same file, with
 * requests on both in flight at once, interleaved (direct, buffered, direct,
 * ...), on disjoint 64 KiB blocks:
 *   1. writes: even blocks through the direct fd, odd ones through the
 *      buffered fd, then aio_fsync(O_SYNC) on the buffered fd;
 *   2. reads of every block through both fds: all see round 1's data;
 *   3. writes again with the roles swapped (even blocks buffered, odd
 *      direct), then aio_fsync(O_DSYNC) on the buffered fd;
 *   4. reads of every block through both fds: all see round 3's data.
 *
 * Why the fsyncs: a buffered write leaves dirty pages in the page cache and
 * an O_DIRECT read goes to the disk. Linux happens to write the range back
 * before a direct read, but nothing promises that, so the scenario makes the
 * buffered data durable first, as a careful program would — submitting the
 * aio_fsync right behind the writes, relying on it covering every write
 * queued before it on that fd. The other direction needs nothing: a direct
 * write invalidates the cached pages of its range, so later buffered reads
 * see it (no buffered request touches a block while a direct one is in
 * flight on it). The file is sized first with ftruncate, so the writes fill
 * holes instead of racing to extend it (odirect_extending_write covers that).
 * Skipped where the filesystem refuses O_DIRECT. */
#include "common.h"

#define ALIGN 4096
#define BLOCK (64 << 10)
#define NB 32
#define SIZE ((size_t)NB * BLOCK)
#define SEED_A 45
#define SEED_B 46

static int dfd, bfd;
static unsigned char *dbuf, *bbuf;

/* Round of writes: block b from src through the direct fd when
 * (b % 2 == direct_parity), else through the buffered fd; then an aio_fsync
 * of the buffered fd with `sync_op`, submitted before anything is waited for. */
static void write_round(const unsigned char *src, int direct_parity, int sync_op)
{
	static struct aiocb w[NB];
	struct aiocb s;
	for (int b = 0; b < NB; b++) {
		int fd = b % 2 == direct_parity ? dfd : bfd;
		prep(&w[b], fd, (void *)(src + (size_t)b * BLOCK), BLOCK,
		     (off_t)b * BLOCK, LIO_WRITE);
		EXPECT_OK(aio_write(&w[b]));
	}
	prep(&s, bfd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(sync_op, &s));
	for (int b = 0; b < NB; b++)
		EXPECT_DONE(&w[b], BLOCK);
	EXPECT_EQ(wait_done(&s), 0);
	EXPECT_EQ(aio_return(&s), 0);
}

/* Every block through both fds, interleaved, all in flight; both must hold
 * the pattern `seed`. */
static void read_round(unsigned seed, const char *what)
{
	static struct aiocb rd[NB], rb[NB];
	memset(dbuf, 0xee, SIZE);
	memset(bbuf, 0xee, SIZE);
	for (int b = 0; b < NB; b++) {
		prep(&rd[b], dfd, dbuf + (size_t)b * BLOCK, BLOCK, (off_t)b * BLOCK, LIO_READ);
		EXPECT_OK(aio_read(&rd[b]));
		prep(&rb[b], bfd, bbuf + (size_t)b * BLOCK, BLOCK, (off_t)b * BLOCK, LIO_READ);
		EXPECT_OK(aio_read(&rb[b]));
	}
	for (int b = 0; b < NB; b++) {
		EXPECT_DONE(&rd[b], BLOCK);
		EXPECT_DONE(&rb[b], BLOCK);
	}
	long long m = find_mismatch(dbuf, SIZE, seed, 0);
	if (m >= 0)
		FAIL("%s: O_DIRECT read: offset %lld (block %lld) is stale or wrong",
		     what, m, m / BLOCK);
	m = find_mismatch(bbuf, SIZE, seed, 0);
	if (m >= 0)
		FAIL("%s: buffered read: offset %lld (block %lld) is stale or wrong",
		     what, m, m / BLOCK);
}

int main(void)
{
	char path[PATH_MAX];
	dfd = tmp_file_flags("mixed", path, O_DIRECT);
	if (dfd < 0)
		skip("open(O_DIRECT) in %s: %s", tmp_dir(), strerror(errno));
	bfd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(bfd >= 0);
	CHECK(unlink(path) == 0);

	unsigned char *a, *b;
	CHECK(posix_memalign((void **)&a, ALIGN, SIZE) == 0);
	CHECK(posix_memalign((void **)&b, ALIGN, SIZE) == 0);
	CHECK(posix_memalign((void **)&dbuf, ALIGN, SIZE) == 0);
	CHECK(posix_memalign((void **)&bbuf, ALIGN, SIZE) == 0);
	fill_pattern(a, SIZE, SEED_A, 0);
	fill_pattern(b, SIZE, SEED_B, 0);

	if (pwrite(dfd, a, ALIGN, 0) != ALIGN)
		skip("O_DIRECT pwrite refused: %s", strerror(errno));
	CHECK(ftruncate(bfd, (off_t)SIZE) == 0);

	write_round(a, 0, O_SYNC);
	printf("round 1: %d direct + %d buffered writes, aio_fsync(O_SYNC)\n",
	       NB / 2, NB / 2);
	read_round(SEED_A, "round 2");
	printf("round 2: %d direct + %d buffered reads see round 1\n", NB, NB);
	write_round(b, 1, O_DSYNC);
	printf("round 3: roles swapped, aio_fsync(O_DSYNC)\n");
	read_round(SEED_B, "round 4");
	printf("round 4: %d direct + %d buffered reads see round 3\n", NB, NB);
	EXPECT_EQ(file_size(bfd), (off_t)SIZE);

	free(a);
	free(b);
	free(dbuf);
	free(bbuf);
	close(dfd);
	close(bfd);
	return 0;
}
