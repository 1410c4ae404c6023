/* One aio_read of a 4 MiB file that is only partly in the page cache returns
 * all 4 MiB, never a short count. paio first tries the read with
 * RWF_NOWAIT, which stops at the first uncached page and returns what it
 * copied so far (or EAGAIN); the rest must be continued at the right offset
 * and the request reported whole. Three layouts: every other 64 KiB region
 * evicted (the non-blocking attempt returns 64 KiB), the second half evicted
 * (it returns 2 MiB), the first half evicted (EAGAIN at once).
 *
 * The cache state is made with posix_fadvise(DONTNEED) after fsync, on an
 * ext4 file under $TMPDIR. The file is written in 64 KiB pieces so that no
 * page-cache folio spans two regions (ext4 uses large folios, and DONTNEED
 * leaves a folio alone when only part of it is in the range). mincore()
 * shows what was evicted; where nothing could be (tmpfs), the scenario
 * skips. */
#include "common.h"

#define SIZE (4 << 20)
#define REGION (64 << 10)
#define NREGIONS (SIZE / REGION)
#define SEED 41

enum layout { ALTERNATE, SECOND_HALF, FIRST_HALF };

static const char *layout_name(enum layout l)
{
	switch (l) {
	case ALTERNATE: return "every other 64 KiB region uncached";
	case SECOND_HALF: return "second half uncached";
	default: return "first half uncached";
	}
}

static int evicted(enum layout l, int region)
{
	switch (l) {
	case ALTERNATE: return region % 2 == 1;
	case SECOND_HALF: return region >= NREGIONS / 2;
	default: return region < NREGIONS / 2;
	}
}

/* How many 64 KiB regions are entirely in the page cache. */
static int cached_regions(int fd)
{
	static unsigned char vec[SIZE / 4096];
	page_residency(fd, SIZE, vec);
	int n = 0;
	for (int r = 0; r < NREGIONS; r++) {
		int pages = 0;
		for (int p = 0; p < REGION / 4096; p++)
			pages += vec[r * (REGION / 4096) + p] & 1;
		n += pages == REGION / 4096;
	}
	return n;
}

/* Rewrite the file in 64 KiB pieces with nothing of it cached before, so
 * its folios are at most 64 KiB, then evict the layout's regions. Returns
 * the number of regions left cached. */
static int prepare(int fd, const unsigned char *data, enum layout l)
{
	CHECK(fsync(fd) == 0);
	EXPECT_OK(posix_fadvise(fd, 0, SIZE, POSIX_FADV_DONTNEED));
	for (int r = 0; r < NREGIONS; r++)
		must_pwrite(fd, data + (size_t)r * REGION, REGION, (off_t)r * REGION);
	CHECK(fsync(fd) == 0);
	for (int r = 0; r < NREGIONS; r++)
		if (evicted(l, r))
			EXPECT_OK(posix_fadvise(fd, (off_t)r * REGION, REGION,
						POSIX_FADV_DONTNEED));
	return cached_regions(fd);
}

int main(void)
{
	int fd = tmp_file("partcache");
	static unsigned char data[SIZE], back[SIZE];
	fill_pattern(data, SIZE, SEED, 0);

	const enum layout layouts[] = { ALTERNATE, SECOND_HALF, FIRST_HALF };
	for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
		enum layout l = layouts[i];
		int cached = prepare(fd, data, l);
		printf("~ %s: %d of %d regions cached before the read\n",
		       layout_name(l), cached, NREGIONS);
		if (cached == NREGIONS)
			skip("posix_fadvise(DONTNEED) evicted nothing in %s "
			     "(tmpfs?): cannot make a partly cached file",
			     tmp_dir());
		if (cached == 0)
			skip("the page cache kept nothing of the file in %s",
			     tmp_dir());

		memset(back, 0, SIZE);
		struct aiocb cb;
		prep(&cb, fd, back, SIZE, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
		EXPECT_DONE(&cb, SIZE); /* a short count fails here */
		EXPECT_PATTERN(back, SIZE, SEED, 0);
		printf("%s: one aio_read returned all %d bytes\n",
		       layout_name(l), SIZE);
	}
	close(fd);
	return 0;
}
