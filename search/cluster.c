/* cluster.c: the MPI transport of a run across processes (see cluster.h). Every MPI call is
 * made inside one critical section, so MPI_THREAD_SERIALIZED is all that is asked of MPI;
 * waits poll and sleep rather than block, so a waiting rank leaves its core to the ranks and
 * threads that train. */
#include "cluster.h"

#include <stdlib.h>
#include <time.h>

#include "../core/err.h"

void cluster_pause(int *idle)
{
	/* 50 us after a message, doubling while none comes, to 5 ms: a waiting rank costs a
	 * core next to nothing, and a worker that asks waits at most that for its trial */
	long ns = 50000L << (*idle < 7 ? *idle : 7);
	if (ns > 5000000L)
		ns = 5000000L;
	(*idle)++;
	struct timespec t = { 0, ns };
	nanosleep(&t, NULL);
}

int cluster_wait(int source, int tag, int *from, int *got_tag, void **buf, size_t *len)
{
	int idle = 0;
	for (;;) {
		int r = cluster_poll(source, tag, from, got_tag, buf, len);
		if (r)
			return r;
		cluster_pause(&idle);
	}
}

static int given_up;

void cluster_give_up(void)
{
	given_up = 1;
}

int cluster_given_up(void)
{
	return given_up;
}

#ifdef DIMSEARCH_MPI

#include <mpi.h>

static int rank, size = 1, started;

int cluster_built(void)
{
	return 1;
}

int cluster_init(int *argc, char ***argv)
{
	int provided = 0;
	if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
		return ds_fail("MPI_Init_thread failed");
	started = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (provided < MPI_THREAD_SERIALIZED && size > 1)
		return ds_fail("this MPI library does not allow MPI calls from several threads "
			       "(MPI_THREAD_SERIALIZED); run one rank, or use an MPI built with "
			       "thread support (Open MPI's is)");
	return 0;
}

void cluster_finalize(int status)
{
	if (started && given_up && size > 1)
		MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
	if (started)
		MPI_Finalize();
	started = 0;
}

int cluster_rank(void)
{
	return rank;
}

int cluster_size(void)
{
	return size;
}

int cluster_send(int dest, int tag, const void *buf, size_t len)
{
	int rc;
#pragma omp critical(mpi)
	rc = MPI_Send(buf, (int)len, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
	return rc == MPI_SUCCESS ? 0 : ds_fail("rank %d: MPI_Send to rank %d failed", rank, dest);
}

int cluster_poll(int source, int tag, int *from, int *got_tag, void **buf, size_t *len)
{
	int r = 0;
#pragma omp critical(mpi)
	{
		int flag = 0, count = 0;
		MPI_Status s;
		if (MPI_Iprobe(source < 0 ? MPI_ANY_SOURCE : source, tag < 0 ? MPI_ANY_TAG : tag,
			       MPI_COMM_WORLD, &flag, &s) != MPI_SUCCESS) {
			r = ds_fail("rank %d: MPI_Iprobe failed", rank);
		} else if (flag) {
			MPI_Get_count(&s, MPI_BYTE, &count);
			void *b = malloc(count > 0 ? (size_t)count : 1);
			if (!b)
				r = ds_fail("rank %d: out of memory receiving %d bytes", rank, count);
			else if (MPI_Recv(b, count, MPI_BYTE, s.MPI_SOURCE, s.MPI_TAG,
					  MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
				free(b);
				r = ds_fail("rank %d: MPI_Recv failed", rank);
			} else {
				*buf = b;
				*len = (size_t)count;
				if (from)
					*from = s.MPI_SOURCE;
				if (got_tag)
					*got_tag = s.MPI_TAG;
				r = 1;
			}
		}
	}
	return r;
}

void cluster_abort(int status)
{
	MPI_Abort(MPI_COMM_WORLD, status);
}

#else /* a cluster of one */

int cluster_built(void)
{
	return 0;
}

int cluster_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

void cluster_finalize(int status)
{
	(void)status;
}

int cluster_rank(void)
{
	return 0;
}

int cluster_size(void)
{
	return 1;
}

int cluster_send(int dest, int tag, const void *buf, size_t len)
{
	(void)dest;
	(void)tag;
	(void)buf;
	(void)len;
	return ds_fail("this build has no MPI (make mpi builds ./dimsearch-mpi)");
}

int cluster_poll(int source, int tag, int *from, int *got_tag, void **buf, size_t *len)
{
	(void)source;
	(void)tag;
	(void)from;
	(void)got_tag;
	(void)buf;
	(void)len;
	return ds_fail("this build has no MPI (make mpi builds ./dimsearch-mpi)");
}

void cluster_abort(int status)
{
	exit(status);
}

#endif
