/* SIGEV_NONE: the request completes and no signal is sent, even though
 * sigev_signo names one with a handler installed. */
#include "common.h"

static atomic_int got;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&got, 1);
}

int main(void)
{
	install_handler(SIGUSR1, on_usr1);
	int fd = tmp_file("none");
	char buf[256];
	fill_pattern(buf, sizeof buf, 15, 0);
	struct aiocb cb[4];
	for (int i = 0; i < 4; i++) {
		prep(&cb[i], fd, buf, sizeof buf, (off_t)i * 256, LIO_WRITE);
		cb[i].aio_sigevent.sigev_notify = SIGEV_NONE;
		cb[i].aio_sigevent.sigev_signo = SIGUSR1;
		EXPECT_OK(aio_write(&cb[i]));
	}
	for (int i = 0; i < 4; i++)
		EXPECT_DONE(&cb[i], sizeof buf);
	sleep_ms(50);
	EXPECT_EQ(atomic_load(&got), 0);
	printf("SIGEV_NONE: completed, no signal\n");
	close(fd);
	return 0;
}
