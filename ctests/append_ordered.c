/* O_APPEND file: aio_writes land at the end in submission order, whatever
 * aio_offset says. */
#include "common.h"

#define N 64
#define REC 100

int main(void)
{
	char path[PATH_MAX];
	int fd = tmp_file_flags("append", path, O_APPEND);
	CHECK(fd >= 0);
	unlink(path);
	must_write(fd, "header\n", 7);
	static char recs[N][REC];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		memset(recs[i], '.', REC);
		snprintf(recs[i], REC, "record %03d", i);
		recs[i][REC - 1] = '\n';
		prep(&cbs[i], fd, recs[i], REC, 0, LIO_WRITE);
		EXPECT_OK(aio_write(&cbs[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], REC);
	EXPECT_EQ(file_size(fd), 7 + N * REC);
	static char back[7 + N * REC];
	must_pread(fd, back, sizeof back, 0);
	CHECK(memcmp(back, "header\n", 7) == 0);
	for (int i = 0; i < N; i++)
		if (memcmp(back + 7 + i * REC, recs[i], REC) != 0)
			FAIL("record %d out of place: %.10s", i, back + 7 + i * REC);
	printf("O_APPEND: %d writes in submission order\n", N);
	close(fd);
	return 0;
}
