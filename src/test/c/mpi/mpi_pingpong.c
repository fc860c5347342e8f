/*
 * Ping-pong between ranks 0 and 1 (other ranks idle), for skiff's MPI benchmark and tests.
 * Rank 0 prints machine-readable lines:
 *   latency bytes=8 usec=U                  half the round-trip time of an 8-byte message (median of runs)
 *   bandwidth bytes=B mbps=M                one-way MB/s (10^6 bytes) for B = 1 KiB .. MAX (powers of 4)
 *   pingpong ok
 * argv[1]: largest message in bytes (default 16 MiB). Every message is checked on arrival: a transport that
 * corrupts data exits 5 instead of reporting a speed.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* Median seconds of one round trip of n bytes over `reps` rounds, in `runs` timed runs. */
static double round_trip(int rank, char *buf, long n, int reps, int runs) {
    double t[32];
    for (int r = 0; r < runs; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < reps; i++) {
            if (rank == 0) {
                MPI_Send(buf, (int) n, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, (int) n, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, (int) n, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, (int) n, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
            }
        }
        t[r] = (MPI_Wtime() - t0) / reps;
    }
    qsort(t, runs, sizeof t[0], cmp);
    return t[runs / 2];
}

int main(int argc, char **argv) {
    int rank, size;
    long max = argc > 1 ? atol(argv[1]) : 16L << 20;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0) fprintf(stderr, "mpi_pingpong: needs 2 ranks, got %d\n", size);
        MPI_Finalize();
        return 3;
    }
    char *buf = malloc(max < 8 ? 8 : max);
    if (!buf) MPI_Abort(MPI_COMM_WORLD, 2);
    /* Correctness first: a pattern goes to rank 1 and comes back unchanged. */
    for (long i = 0; i < max; i++) buf[i] = (char) (i * 7 + 3);
    round_trip(rank, buf, max, 1, 1);
    for (long i = 0; i < max; i++) {
        if (buf[i] != (char) (i * 7 + 3)) {
            fprintf(stderr, "mpi_pingpong: rank %d: byte %ld of a %ld-byte message differs\n", rank, i, max);
            MPI_Abort(MPI_COMM_WORLD, 5);
        }
    }
    double lat = round_trip(rank, buf, 8, 2000, 7);
    if (rank == 0) printf("latency bytes=8 usec=%.3f\n", lat / 2 * 1e6);
    for (long n = 1024; n <= max; n *= 4) {
        int reps = n <= (64 << 10) ? 200 : n <= (1 << 20) ? 40 : 10;
        double t = round_trip(rank, buf, n, reps, 5);
        if (rank == 0) printf("bandwidth bytes=%ld mbps=%.1f\n", n, 2.0 * n / t / 1e6);
        fflush(stdout);
    }
    if (rank == 0) printf("pingpong ok\n");
    free(buf);
    MPI_Finalize();
    return 0;
}
