/* SIGEV_SIGNAL with sigev_signo 0 (the null signal; squid does this) is
 * accepted, the requests complete, and nothing is delivered. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("sig0");
	char buf[128];
	fill_pattern(buf, sizeof buf, 16, 0);
	struct aiocb w, r;
	prep(&w, fd, buf, sizeof buf, 0, LIO_WRITE);
	w.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	w.aio_sigevent.sigev_signo = 0;
	EXPECT_OK(aio_write(&w));
	EXPECT_DONE(&w, sizeof buf);
	char back[128];
	prep(&r, fd, back, sizeof back, 0, LIO_READ);
	r.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	r.aio_sigevent.sigev_signo = 0;
	EXPECT_OK(aio_read(&r));
	EXPECT_DONE(&r, sizeof back);
	EXPECT_PATTERN(back, sizeof back, 16, 0);
	/* In a list too. */
	struct aiocb *list[1] = { &r };
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 0;
	prep(&r, fd, back, sizeof back, 0, LIO_READ);
	EXPECT_OK(lio_listio(LIO_NOWAIT, list, 1, &sev));
	EXPECT_DONE(&r, sizeof back);
	sleep_ms(20);
	printf("SIGEV_SIGNAL signo 0: accepted and completed\n");
	close(fd);
	return 0;
}
