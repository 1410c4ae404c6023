/* Many buffered aio_writes in flight on one descriptor of an ext4 file, at
 * different offsets, in scattered order, with sizes that are not multiples
 * of the page (so neighbours share pages), small ones (1-8 KB) mixed with
 * large ones (140-210 KB): afterwards the file holds exactly what was
 * written. A second round overwrites the middle of the file with other
 * boundaries and sizes; the rest must be left alone.
 *
 * On ext4 a buffered write with RWF_NOWAIT fails with EOPNOTSUPP, so paio
 * cannot complete it without blocking: it remembers that for the fd and
 * queues such writes for its worker pool, except small ones (up to
 * PAIO_SYNC_WRITE_MAX, 128 KiB by default) that it may copy into the page
 * cache in the submitting thread when nothing of that fd is queued. Both
 * sizes are here, so both paths run on one fd, with many writes pending at
 * once. The filesystem type is printed as information; the checks hold on
 * any filesystem. */
#include "common.h"
#include <sys/vfs.h>

#define N1 256            /* first round: writes in flight */
#define SMALL_MIN 1000
#define SMALL_SPREAD 7000
#define LARGE_MIN (140 * 1000) /* above paio's default 128 KiB */
#define LARGE_SPREAD (70 * 1000)
#define LARGE_EVERY 4     /* one write in LARGE_EVERY is large */
#define SEED1 43
#define SEED2 44
#define EXT4_MAGIC 0xEF53

/* Length of piece i of a round: mostly small, every LARGE_EVERY-th large. */
static size_t len_of(int i, int salt)
{
	int spread = (i * 613 + salt * 97) % 7919;
	if (i % LARGE_EVERY == salt % LARGE_EVERY)
		return LARGE_MIN + (size_t)(spread * 37 % LARGE_SPREAD);
	return SMALL_MIN + (size_t)(spread % SMALL_SPREAD);
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

static struct aiocb cbs[N1];

static int gcd(int a, int b)
{
	return b == 0 ? a : gcd(b, a % b);
}

/* Submit writes of src[off[i], off[i]+len[i]) for i in a scattered order
 * (all in flight), then wait for every one. */
static void write_round(int fd, const unsigned char *src, const off_t *off,
			const size_t *len, int n, const char *what)
{
	int step = 97; /* k * step mod n visits every piece once if coprime */
	while (gcd(step, n) != 1)
		step += 2;
	for (int k = 0; k < n; k++) {
		int i = (int)(((long long)k * step) % n);
		prep(&cbs[k], fd, (void *)(src + off[i]), len[i], off[i], LIO_WRITE);
		errno = 0;
		if (aio_write(&cbs[k]) != 0)
			FAIL("%s: aio_write #%d: %s", what, k, errname(errno));
	}
	for (int k = 0; k < n; k++)
		EXPECT_DONE(&cbs[k], cbs[k].aio_nbytes);
}

int main(void)
{
	int fd = tmp_file("bufwrite");
	struct statfs sfs;
	CHECK(fstatfs(fd, &sfs) == 0);
	printf("~ filesystem: %s (magic 0x%lx)\n",
	       sfs.f_type == EXT4_MAGIC ? "ext4" : "not ext4",
	       (unsigned long)sfs.f_type);

	/* Round 1: contiguous pieces covering [0, total). */
	static off_t off1[N1], off2[N1];
	static size_t len1[N1], len2[N1];
	size_t total = 0;
	int large = 0;
	for (int i = 0; i < N1; i++) {
		off1[i] = (off_t)total;
		len1[i] = len_of(i, 0);
		large += len1[i] >= LARGE_MIN;
		total += len1[i];
	}
	unsigned char *src1 = malloc(total), *src2 = malloc(total);
	unsigned char *expect = malloc(total), *back = malloc(total);
	CHECK(src1 && src2 && expect && back);
	fill_pattern(src1, total, SEED1, 0);
	fill_pattern(src2, total, SEED2, 0);

	write_round(fd, src1, off1, len1, N1, "round 1");
	EXPECT_EQ(file_size(fd), (off_t)total);
	must_pread(fd, back, total, 0);
	expect_same(back, src1, total, "after round 1");
	printf("round 1: %d buffered writes in flight (%d large), %zu bytes verified\n",
	       N1, large, total);

	/* Round 2: the middle half, in pieces with other boundaries. */
	size_t start = total / 4 + 123, end = total - total / 4 - 456;
	int n2 = 0;
	large = 0;
	for (size_t o = start; o < end; n2++) {
		CHECK(n2 < N1);
		size_t len = len_of(n2, 1);
		if (o + len > end)
			len = end - o;
		off2[n2] = (off_t)o;
		len2[n2] = len;
		large += len >= LARGE_MIN;
		o += len;
	}
	memcpy(expect, src1, total);
	memcpy(expect + start, src2 + start, end - start);
	write_round(fd, src2, off2, len2, n2, "round 2");
	EXPECT_EQ(file_size(fd), (off_t)total);
	memset(back, 0, total);
	must_pread(fd, back, total, 0);
	expect_same(back, expect, total, "after round 2");
	printf("round 2: %d overwrites in flight (%d large), file verified\n",
	       n2, large);

	free(src1);
	free(src2);
	free(expect);
	free(back);
	close(fd);
	return 0;
}
