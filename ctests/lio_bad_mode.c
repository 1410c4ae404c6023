/* lio_listio with a mode other than LIO_WAIT/LIO_NOWAIT: -1/EINVAL and no
 * request is started. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("liomode");
	char buf[16] = "0123456789abcdef";
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	struct aiocb *list[1] = { &cb };
	int modes[] = { 2, -1, 42 };
	for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++)
		EXPECT_SYSERR(lio_listio(modes[i], list, 1, NULL), EINVAL);
	sleep_ms(20);
	EXPECT_EQ(file_size(fd), 0);
	printf("lio_listio bad mode -> EINVAL, nothing written\n");
	close(fd);
	return 0;
}
