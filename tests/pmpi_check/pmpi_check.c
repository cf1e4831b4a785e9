/* PMPI interposition checker, loaded with LD_PRELOAD in dgampi's MPI tests.
 *
 * Records the byte size of every message a rank sends (point-to-point and the
 * per-peer blocks of collectives) and aborts the whole run, with a message on
 * stderr, as soon as one exceeds the limit in force: DGAMPI_PMPI_LIMIT if set,
 * else DGAMPI_MAX_MESSAGE_BYTES, else 2147483647. With DGAMPI_PMPI_LOG set
 * (a file name), the message is also appended to that file before the abort
 * (a launcher may tear the job down before it forwards the rank's stderr:
 * MPICH's hydra sometimes does). With DGAMPI_PMPI_REPORT set, each rank
 * prints its message count and largest message at MPI_Finalize. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static long long limit_bytes = -1;
static long long n_messages = 0;
static long long max_bytes = 0;

static long long the_limit(void) {
    if (limit_bytes < 0) {
        const char *s = getenv("DGAMPI_PMPI_LIMIT");
        if (!s) s = getenv("DGAMPI_MAX_MESSAGE_BYTES");
        limit_bytes = s ? atoll(s) : 2147483647LL;
        if (limit_bytes <= 0) limit_bytes = 2147483647LL;
    }
    return limit_bytes;
}

static void record(const char *fn, long long count, MPI_Datatype type) {
    int size = 0;
    if (type == MPI_DATATYPE_NULL || count <= 0) return;
    PMPI_Type_size(type, &size);
    long long bytes = count * (long long)size;
    n_messages++;
    if (bytes > max_bytes) max_bytes = bytes;
    if (bytes > the_limit()) {
        int rank = -1;
        PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
        fprintf(stderr, "pmpi_check: rank %d: %s moves a %lld-byte message, above the limit of %lld bytes\n",
                rank, fn, bytes, the_limit());
        fflush(stderr);
        const char *log = getenv("DGAMPI_PMPI_LOG");
        FILE *f = log ? fopen(log, "a") : NULL;
        if (f) {
            fprintf(f, "pmpi_check: rank %d: %s moves a %lld-byte message, above the limit of %lld bytes\n",
                    rank, fn, bytes, the_limit());
            fclose(f);
        }
        PMPI_Abort(MPI_COMM_WORLD, 97);
    }
}

static void record_v(const char *fn, const int *counts, MPI_Datatype type, MPI_Comm comm) {
    int n = 0;
    PMPI_Comm_size(comm, &n);
    for (int i = 0; i < n; i++) record(fn, counts[i], type);
}

static int is_root(MPI_Comm comm, int root) {
    int rank = -1;
    PMPI_Comm_rank(comm, &rank);
    return rank == root;
}

int MPI_Send(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm) {
    record("MPI_Send", c, t); return PMPI_Send(b, c, t, d, tag, comm);
}
int MPI_Ssend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm) {
    record("MPI_Ssend", c, t); return PMPI_Ssend(b, c, t, d, tag, comm);
}
int MPI_Bsend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm) {
    record("MPI_Bsend", c, t); return PMPI_Bsend(b, c, t, d, tag, comm);
}
int MPI_Rsend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm) {
    record("MPI_Rsend", c, t); return PMPI_Rsend(b, c, t, d, tag, comm);
}
int MPI_Isend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm, MPI_Request *r) {
    record("MPI_Isend", c, t); return PMPI_Isend(b, c, t, d, tag, comm, r);
}
int MPI_Issend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm, MPI_Request *r) {
    record("MPI_Issend", c, t); return PMPI_Issend(b, c, t, d, tag, comm, r);
}
int MPI_Sendrecv(const void *sb, int sc, MPI_Datatype st, int d, int stag, void *rb, int rc,
                 MPI_Datatype rt, int s, int rtag, MPI_Comm comm, MPI_Status *status) {
    record("MPI_Sendrecv", sc, st);
    return PMPI_Sendrecv(sb, sc, st, d, stag, rb, rc, rt, s, rtag, comm, status);
}
int MPI_Bcast(void *b, int c, MPI_Datatype t, int root, MPI_Comm comm) {
    record("MPI_Bcast", c, t); return PMPI_Bcast(b, c, t, root, comm);
}
int MPI_Ibcast(void *b, int c, MPI_Datatype t, int root, MPI_Comm comm, MPI_Request *r) {
    record("MPI_Ibcast", c, t); return PMPI_Ibcast(b, c, t, root, comm, r);
}
int MPI_Reduce(const void *sb, void *rb, int c, MPI_Datatype t, MPI_Op op, int root, MPI_Comm comm) {
    record("MPI_Reduce", c, t); return PMPI_Reduce(sb, rb, c, t, op, root, comm);
}
int MPI_Allreduce(const void *sb, void *rb, int c, MPI_Datatype t, MPI_Op op, MPI_Comm comm) {
    record("MPI_Allreduce", c, t); return PMPI_Allreduce(sb, rb, c, t, op, comm);
}
int MPI_Gather(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root, MPI_Comm comm) {
    record("MPI_Gather", sc, st); return PMPI_Gather(sb, sc, st, rb, rc, rt, root, comm);
}
int MPI_Gatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int *rcs, const int *displs,
                MPI_Datatype rt, int root, MPI_Comm comm) {
    record("MPI_Gatherv", sc, st);
    if (is_root(comm, root)) record_v("MPI_Gatherv", rcs, rt, comm);
    return PMPI_Gatherv(sb, sc, st, rb, rcs, displs, rt, root, comm);
}
int MPI_Scatter(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root, MPI_Comm comm) {
    if (is_root(comm, root)) record("MPI_Scatter", sc, st);
    return PMPI_Scatter(sb, sc, st, rb, rc, rt, root, comm);
}
int MPI_Scatterv(const void *sb, const int *scs, const int *displs, MPI_Datatype st, void *rb, int rc,
                 MPI_Datatype rt, int root, MPI_Comm comm) {
    if (is_root(comm, root)) record_v("MPI_Scatterv", scs, st, comm);
    record("MPI_Scatterv", rc, rt);
    return PMPI_Scatterv(sb, scs, displs, st, rb, rc, rt, root, comm);
}
int MPI_Allgather(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, MPI_Comm comm) {
    record("MPI_Allgather", sc, st); record("MPI_Allgather", rc, rt);
    return PMPI_Allgather(sb, sc, st, rb, rc, rt, comm);
}
int MPI_Allgatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int *rcs, const int *displs,
                   MPI_Datatype rt, MPI_Comm comm) {
    if (sb != MPI_IN_PLACE) record("MPI_Allgatherv", sc, st);
    record_v("MPI_Allgatherv", rcs, rt, comm);
    return PMPI_Allgatherv(sb, sc, st, rb, rcs, displs, rt, comm);
}
int MPI_Alltoall(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, MPI_Comm comm) {
    record("MPI_Alltoall", sc, st); record("MPI_Alltoall", rc, rt);
    return PMPI_Alltoall(sb, sc, st, rb, rc, rt, comm);
}
int MPI_Alltoallv(const void *sb, const int *scs, const int *sd, MPI_Datatype st, void *rb, const int *rcs,
                  const int *rd, MPI_Datatype rt, MPI_Comm comm) {
    if (sb != MPI_IN_PLACE) record_v("MPI_Alltoallv", scs, st, comm);
    record_v("MPI_Alltoallv", rcs, rt, comm);
    return PMPI_Alltoallv(sb, scs, sd, st, rb, rcs, rd, rt, comm);
}

/* The w collectives: one block per peer, each of its own datatype (neighbours
 * of a graph communicator for the neighbourhood form). */
static void record_w(const char *fn, int n, const int *counts, const MPI_Datatype *types) {
    for (int i = 0; i < n; i++) record(fn, counts[i], types[i]);
}
int MPI_Alltoallw(const void *sb, const int *scs, const int *sd, const MPI_Datatype *st, void *rb, const int *rcs,
                  const int *rd, const MPI_Datatype *rt, MPI_Comm comm) {
    int n = 0;
    PMPI_Comm_size(comm, &n);
    if (sb != MPI_IN_PLACE) record_w("MPI_Alltoallw", n, scs, st);
    record_w("MPI_Alltoallw", n, rcs, rt);
    return PMPI_Alltoallw(sb, scs, sd, st, rb, rcs, rd, rt, comm);
}
int MPI_Neighbor_alltoallw(const void *sb, const int *scs, const MPI_Aint *sd, const MPI_Datatype *st, void *rb,
                           const int *rcs, const MPI_Aint *rd, const MPI_Datatype *rt, MPI_Comm comm) {
    int indegree = 0, outdegree = 0, weighted = 0;
    PMPI_Dist_graph_neighbors_count(comm, &indegree, &outdegree, &weighted);
    record_w("MPI_Neighbor_alltoallw", outdegree, scs, st);
    record_w("MPI_Neighbor_alltoallw", indegree, rcs, rt);
    return PMPI_Neighbor_alltoallw(sb, scs, sd, st, rb, rcs, rd, rt, comm);
}

int MPI_Finalize(void) {
    if (getenv("DGAMPI_PMPI_REPORT")) {
        int rank = -1;
        PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
        fprintf(stderr, "pmpi_check: rank %d: %lld messages, largest %lld bytes, limit %lld\n",
                rank, n_messages, max_bytes, the_limit());
    }
    return PMPI_Finalize();
}
