/* MPI-IO end-to-end check for paio (ctests/tests/real_programs.rs).
 *
 * Every rank writes its own blocks of one shared file with non-blocking
 * MPI_File_iwrite_at, waits, syncs, then reads the other rank's blocks back
 * with MPI_File_iread_at and checks every byte. ROMIO implements the
 * non-blocking calls of its generic/ufs driver with POSIX aio_write/aio_read
 * and waits with aio_suspend/aio_error/aio_return, which is what paio serves
 * under LD_PRELOAD.
 *
 * usage: mpiexec -n 2 ./mpi_io FILE   (FILE may carry a ROMIO prefix, "ufs:")
 * prints "mpi_io: rank R verified N bytes" per rank; exits non-zero on any
 * mismatch or MPI error. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 65536
#define BLOCKS 8   /* per rank, interleaved: block i of rank r at (i*size+r)*BLOCK */

static unsigned char pattern(int rank, int block, size_t i)
{
    return (unsigned char)(rank * 131 + block * 17 + i * 7 + (i >> 9));
}

#define CHECK(call)                                                             \
    do {                                                                        \
        int rc_ = (call);                                                       \
        if (rc_ != MPI_SUCCESS) {                                               \
            char msg_[MPI_MAX_ERROR_STRING];                                    \
            int len_ = 0;                                                       \
            MPI_Error_string(rc_, msg_, &len_);                                 \
            fprintf(stderr, "mpi_io: %s failed: %s\n", #call, msg_);            \
            MPI_Abort(MPI_COMM_WORLD, 2);                                       \
        }                                                                       \
    } while (0)

int main(int argc, char **argv)
{
    int rank, size;
    MPI_File fh;
    MPI_Request req[BLOCKS];
    MPI_Status st;
    static unsigned char out[BLOCKS][BLOCK], in[BLOCKS][BLOCK];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: mpi_io FILE\n");
        MPI_Finalize();
        return 2;
    }
    MPI_File_set_errhandler(MPI_FILE_NULL, MPI_ERRORS_RETURN);
    CHECK(MPI_File_open(MPI_COMM_WORLD, argv[1], MPI_MODE_CREATE | MPI_MODE_RDWR,
                        MPI_INFO_NULL, &fh));

    for (int b = 0; b < BLOCKS; b++) {
        for (size_t i = 0; i < BLOCK; i++)
            out[b][i] = pattern(rank, b, i);
        MPI_Offset off = ((MPI_Offset)b * size + rank) * BLOCK;
        CHECK(MPI_File_iwrite_at(fh, off, out[b], BLOCK, MPI_BYTE, &req[b]));
    }
    for (int b = 0; b < BLOCKS; b++) {
        int count = -1;
        CHECK(MPI_Wait(&req[b], &st));
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (count != BLOCK) {
            fprintf(stderr, "mpi_io: rank %d write %d count %d\n", rank, b, count);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    CHECK(MPI_File_sync(fh));
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(MPI_File_sync(fh));

    int peer = (rank + 1) % size;
    memset(in, 0, sizeof in);
    for (int b = 0; b < BLOCKS; b++) {
        MPI_Offset off = ((MPI_Offset)b * size + peer) * BLOCK;
        CHECK(MPI_File_iread_at(fh, off, in[b], BLOCK, MPI_BYTE, &req[b]));
    }
    for (int b = 0; b < BLOCKS; b++) {
        int count = -1;
        CHECK(MPI_Wait(&req[b], &st));
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (count != BLOCK) {
            fprintf(stderr, "mpi_io: rank %d read %d count %d\n", rank, b, count);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    long bad = 0;
    for (int b = 0; b < BLOCKS; b++)
        for (size_t i = 0; i < BLOCK; i++)
            if (in[b][i] != pattern(peer, b, i))
                bad++;
    if (bad) {
        fprintf(stderr, "mpi_io: rank %d: %ld bytes differ in rank %d's blocks\n", rank, bad, peer);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    printf("mpi_io: rank %d verified %d bytes\n", rank, BLOCKS * BLOCK);
    fflush(stdout);
    CHECK(MPI_File_close(&fh));
    MPI_Finalize();
    return 0;
}
