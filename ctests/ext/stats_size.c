/* paio_stats and the caller's structure size: size 8 fills only size and
 * version; 16 adds `requests`; 12 fills 12 bytes; a size above
 * sizeof(struct paio_stats) fills the whole structure and reports its size;
 * no byte past the filled ones is written. Sizes below 8 and NULL give
 * -1/EINVAL and write nothing. */
#include "ext.h"

#define CANARY 0xA5

static union {
	struct paio_stats s;
	unsigned char b[sizeof(struct paio_stats) + 64];
} u;

static void fill(uint32_t size)
{
	memset(u.b, CANARY, sizeof u.b);
	memcpy(u.b, &size, sizeof size);
}

static void expect_untouched_from(size_t from, uint32_t size)
{
	for (size_t i = from; i < sizeof u.b; i++)
		if (u.b[i] != CANARY)
			FAIL("size %u: byte %zu written (0x%02x)", size, i, u.b[i]);
}

static void expect_filled(uint32_t size, uint32_t want_size)
{
	fill(size);
	EXPECT_OK(paio_stats(&u.s));
	EXPECT_EQ(u.s.size, want_size);
	EXPECT_EQ(u.s.version, PAIO_STATS_VERSION);
	expect_untouched_from(want_size, size);
	printf("size %u: 0, size %u, version %u, nothing written past it\n", size,
	       u.s.size, u.s.version);
}

int main(void)
{
	printf("sizeof(struct paio_stats) %zu, PAIO_STATS_VERSION %d\n",
	       sizeof(struct paio_stats), PAIO_STATS_VERSION);
	/* Some requests, so `requests` is not 0. */
	int fd = tmp_file("stats-size");
	char buf[10] = "abcdefghi";
	struct aiocb cb;
	for (int i = 0; i < 3; i++) {
		prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
		EXPECT_OK(aio_write(&cb));
		EXPECT_DONE(&cb, sizeof buf);
	}

	expect_filled(8, 8);
	expect_filled(12, 12);
	expect_filled(16, 16);
	EXPECT_EQ(u.s.requests, 3);
	expect_filled(sizeof(struct paio_stats), sizeof(struct paio_stats));
	EXPECT_EQ(u.s.requests, 3);
	EXPECT_EQ(u.s.writes, 3);
	expect_filled(sizeof(struct paio_stats) + 64, sizeof(struct paio_stats));
	EXPECT_EQ(u.s.requests, 3);

	static const uint32_t small[] = { 0, 4, 7 };
	for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
		fill(small[i]);
		EXPECT_SYSERR(paio_stats(&u.s), EINVAL);
		EXPECT_EQ(u.s.size, small[i]);
		expect_untouched_from(4, small[i]);
	}
	printf("size 0, 4, 7: -1/EINVAL, nothing written\n");
	EXPECT_SYSERR(paio_stats(hidden_null()), EINVAL);
	printf("NULL: -1/EINVAL\n");
	close(fd);
	return 0;
}
