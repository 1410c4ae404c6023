/* aio_fsync(O_DSYNC) (fdatasync) after writes completes with 0 and the data is
 * in the file. Same body as fsync_osync.c with the other op. */
#define FSYNC_OP O_DSYNC
#define FSYNC_NAME "O_DSYNC"
#include "fsync_osync.c"
