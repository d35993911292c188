/* cluster.h: messages between the processes of one run under MPI (mpirun, srun).
 *
 * Rank 0 owns the database: it plans the trials, hands them out one at a time as workers ask,
 * receives every epoch, latent activity and trial result as a message and stores it; workers
 * never open the database. This file is only the transport: the scheduler (scheduler.c)
 * decides what is sent. Every rank runs the same binary, so records travel as their bytes.
 *
 * Built with -DDIMSEARCH_MPI (make mpi: ./dimsearch-mpi) it uses MPI; otherwise the process
 * is a cluster of one (rank 0, size 1) and sending or polling is an error. */
#ifndef DS_CLUSTER_H
#define DS_CLUSTER_H

#include <stddef.h>

/* What a message is; a slot is one of a worker's threads, each running its own trial. */
enum cluster_tag {
	CL_BEGIN = 1,	 /* 0 -> worker: an experiment starts (struct cl_begin) */
	CL_READY = 2,	 /* worker -> 0: data loaded, this many slots (int) */
	CL_FAIL = 3,	 /* worker -> 0: it cannot run the experiment (message text) */
	CL_FINISH = 4,	 /* 0 -> worker: the run is over, exit with this status (int) */
	CL_REQUEST = 5,	 /* worker -> 0: slot (int) wants a trial */
	CL_EPOCH = 6,	 /* worker -> 0: an epoch of the slot's trial */
	CL_ACTIVITY = 7, /* worker -> 0: the latent units of the slot's trial */
	CL_END = 8,	 /* worker -> 0: the slot's trial ended (and the slot wants another) */
	CL_TRIAL = 16	 /* 0 -> worker slot s: tag CL_TRIAL + s, a trial or "no more" */
};

/* MPI_Init when built with MPI (threads: every call is serialized by this file), before any
 * other function of this file. 0, or -1 with ds_errmsg(). Without MPI: nothing, 0. */
int cluster_init(int *argc, char ***argv);
/* MPI_Finalize after the last message; MPI_Abort(status) instead after cluster_give_up. */
void cluster_finalize(int status);
/* Some rank stopped answering: the job is to end with MPI_Abort, not wait in MPI_Finalize. */
void cluster_give_up(void);
int cluster_given_up(void);
int cluster_rank(void);
int cluster_size(void);
/* Whether this binary was built with MPI. */
int cluster_built(void);

/* Send len bytes to rank dest under tag. 0, or -1 with ds_errmsg(). */
int cluster_send(int dest, int tag, const void *buf, size_t len);
/* The next message from source (-1: any) under tag (-1: any): 1 with it in *buf (malloc'd,
 * *len bytes) and its source and tag, 0 when none has arrived, -1 with ds_errmsg(). */
int cluster_poll(int source, int tag, int *from, int *got_tag, void **buf, size_t *len);
/* cluster_poll until a message comes, sleeping between polls (no core spins while it waits). */
int cluster_wait(int source, int tag, int *from, int *got_tag, void **buf, size_t *len);
/* A sleep for a loop that polls: longer the more polls in a row found nothing (*idle, which
 * the caller sets to 0 when a message comes). */
void cluster_pause(int *idle);
/* End every rank at once (a rank that cannot go on): MPI_Abort. */
void cluster_abort(int status);

#endif
