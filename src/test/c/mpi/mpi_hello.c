/*
 * MPI hello for skiff's MPI tests: every rank prints one line
 *   hello rank=R size=S host=H pid=P
 * and rank 0 prints "hello ok size=S sum=X" after an MPI_Allreduce over all ranks.
 * A launcher whose PMI the MPI library does not speak does not fail: every rank starts as a singleton
 * (size 1). So the expected size is checked: argv[1] if given, else SLURM_NTASKS when the job step
 * launched the ranks directly (SLURM_STEP_NUM_TASKS), else OMPI_COMM_WORLD_SIZE / PMI_SIZE; a mismatch exits 3.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int expected(int argc, char **argv) {
    const char *names[] = {"SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    if (argc > 1) return atoi(argv[1]);
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}

int main(int argc, char **argv) {
    int rank, size, want = expected(argc, argv);
    char host[256] = "";
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof host - 1);
    printf("hello rank=%d size=%d host=%s pid=%ld\n", rank, size, host, (long) getpid());
    fflush(stdout);
    if (want > 0 && size != want) {
        fprintf(stderr, "mpi_hello: rank %d sees size %d, expected %d: the MPI library does not speak the "
                        "launcher's PMI (every rank started as a singleton)\n", rank, size, want);
        MPI_Finalize();
        return 3;
    }
    long one = rank, sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (sum != (long) size * (size - 1) / 2) {
        fprintf(stderr, "mpi_hello: rank %d: allreduce gave %ld, expected %ld\n", rank, sum, (long) size * (size - 1) / 2);
        MPI_Finalize();
        return 4;
    }
    if (rank == 0) printf("hello ok size=%d sum=%ld\n", size, sum);
    MPI_Finalize();
    return 0;
}
