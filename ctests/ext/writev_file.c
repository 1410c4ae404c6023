/* aio_writev on a regular file (buffered): the iovecs are gathered in order
 * (odd lengths, an empty iovec included) at aio_offset, aio_return gives the
 * total, and the file holds exactly those bytes; concurrent vectored writes at
 * different offsets all land. */
#include "ext.h"

int main(void)
{
	int fd = tmp_file("writev");
	/* The pattern of seed 22 at offsets 3.., cut into 10 + 0 + 4096 + 777. */
	static unsigned char src[10 + 4096 + 777];
	fill_pattern(src, sizeof src, 22, 3);
	struct iovec iov[4] = {
		{ src, 10 }, { src + 10, 0 }, { src + 10, 4096 }, { src + 4106, 777 },
	};
	struct aiocb cb;
	prepv(&cb, fd, iov, 4, 3, LIO_WRITE);
	EXPECT_OK(aio_writev(&cb));
	EXPECT_DONE(&cb, sizeof src);
	EXPECT_EQ(file_size(fd), 3 + sizeof src);
	static unsigned char back[sizeof src];
	must_pread(fd, back, sizeof back, 3);
	EXPECT_PATTERN(back, sizeof back, 22, 3);
	unsigned char hole[3];
	must_pread(fd, hole, 3, 0);
	EXPECT_EQ(hole[0] | hole[1] | hole[2], 0);
	printf("writev 4 iovecs: %zu bytes gathered in order\n", sizeof src);

	/* 32 concurrent writes of 3 iovecs each, adjacent ranges. */
	enum { N = 32, PART = 1000 };
	int fd2 = tmp_file("writev-many");
	static unsigned char bufs[N][3 * PART];
	struct iovec vecs[N][3];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		fill_pattern(bufs[i], sizeof bufs[i], 23, (long long)i * 3 * PART);
		/* The iovecs name the parts out of memory order. */
		vecs[i][0] = (struct iovec){ bufs[i], PART };
		vecs[i][1] = (struct iovec){ bufs[i] + PART, PART };
		vecs[i][2] = (struct iovec){ bufs[i] + 2 * PART, PART };
		prepv(&cbs[i], fd2, vecs[i], 3, (off_t)i * 3 * PART, LIO_WRITE);
	}
	for (int i = N - 1; i >= 0; i--)
		EXPECT_OK(aio_writev(&cbs[i]));
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], 3 * PART);
	static unsigned char all[N * 3 * PART];
	must_pread(fd2, all, sizeof all, 0);
	EXPECT_PATTERN(all, sizeof all, 23, 0);
	EXPECT_EQ(file_size(fd2), sizeof all);
	printf("%d concurrent writev ok\n", N);
	close(fd);
	close(fd2);
	return 0;
}
