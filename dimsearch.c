/* dimsearch.c: the command line: dispatches to the commands and owns every exit code. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/data.h"
#include "core/err.h"
#include "core/flops.h"
#include "core/manifolds.h"
#include "core/model.h"
#include "core/train.h"
#include "baselines/idest.h"
#include "results/plot.h"
#include "results/report.h"
#include "results/store.h"
#include "search/experiment.h"
#include "search/scheduler.h"

#define DIMSEARCH_VERSION "0.1.0"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

static const char *prog = "dimsearch";

/* ---- small helpers ---- */

__attribute__((format(printf, 1, 2))) static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int parse_long(const char *opt, const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (end == text || *end || errno || v < lo || v > hi) {
		usage_error("%s takes a whole number from %ld to %ld (got '%s')", opt, lo, hi, text);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_double(const char *opt, const char *text, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(v) || v < lo || v > hi) {
		usage_error("%s takes a number from %g to %g (got '%s')", opt, lo, hi, text);
		return -1;
	}
	*out = v;
	return 0;
}

/* "512,256" into widths; returns the count or -1 */
static int parse_widths(const char *opt, const char *text, int *widths, int max)
{
	if (!strcmp(text, "") || !strcmp(text, "none"))
		return 0;
	int n = 0;
	const char *p = text;
	while (*p) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > 1 << 20 || (*end && *end != ',') || n == max) {
			usage_error("%s takes up to %d comma-separated widths, e.g. 512,256 (got '%s')",
				    opt, max, text);
			return -1;
		}
		widths[n++] = (int)v;
		p = *end ? end + 1 : end;
	}
	return n;
}

/* getopt_long's ':' and '?' as one message, for every command */
static void bad_option(int c, char **argv, const char *command)
{
	if (c == ':')
		usage_error("%s needs a value (see '%s %s --help')", argv[optind - 1], prog,
			    command);
	else
		usage_error("unknown option '%s' (see '%s %s --help')", argv[optind - 1], prog,
			    command);
}

static int default_threads(void)
{
	int n = omp_get_num_procs();
	return n > 0 ? n : 1;
}

/* ---- train ---- */

struct train_opts {
	const char *dataset;
	long latent;
	int hidden[AE_MAX_HIDDEN];
	int n_hidden;
	enum act hidden_act, latent_act, output_act;
	int output_act_given;
	enum loss loss;
	long epochs, batch, chunks, threads;
	double lr;
	long seed;
	struct data_opts data;
	int json, quiet;
};

static void train_help(FILE *out)
{
	fprintf(out,
		"usage: %s train --dataset SPEC --latent K [options]\n"
		"\n"
		"Train one autoencoder D-h1-...-K-...-h1-D and report its reconstruction error,\n"
		"speed and FLOPs. Progress goes to stderr, one line per epoch.\n"
		"\n"
		"  --dataset SPEC     fashion-mnist | idx:IMAGES[,LABELS] | csv:PATH[,label=last]\n"
		"                     | affine:d=5,D=50,n=4000,noise=0.01 | sphere:d=2,D=3,n=4000\n"
		"                     | swissroll:D=3,n=4000,noise=0\n"
		"  --latent K         latent width (required)\n"
		"  --hidden LIST      encoder hidden widths, mirrored in the decoder (512,256)\n"
		"  --hidden-act A     relu | sigmoid | identity (relu)\n"
		"  --latent-act A     activation of the code layer (relu)\n"
		"  --output-act A     (sigmoid when the data lies in [0,1], else identity)\n"
		"  --loss L           mse | bce (mse)\n"
		"  --epochs E         (10)\n"
		"  --batch B          (256)\n"
		"  --lr X             Adam step size (0.001)\n"
		"  --seed S           initialisation, shuffling, splits and synthetic data (1)\n"
		"  --n-train N        keep at most N training examples (all)\n"
		"  --n-val N          validation examples (Fashion-MNIST 5000, others 10%%)\n"
		"  --n-test N         test examples (Fashion-MNIST 10000, others 10%%)\n"
		"  --threads T        OpenMP threads (%d, all cores); results do not depend on T\n"
		"  --chunks C         each batch is split into C chunks for the threads (%d);\n"
		"                     results depend on C, so keep it fixed when comparing\n"
		"  --json             print a JSON summary as the last line of stdout\n"
		"  --quiet            no per-epoch progress\n"
		"  -h, --help         this help\n",
		prog, default_threads(), TRAIN_DEFAULT_CHUNKS);
}

static int train_parse(int argc, char **argv, struct train_opts *o)
{
	enum { O_HIDDEN = 256, O_HACT, O_LACT, O_OACT, O_LOSS, O_EPOCHS, O_BATCH, O_LR, O_SEED,
	       O_NTRAIN, O_NVAL, O_NTEST, O_THREADS, O_CHUNKS, O_JSON, O_QUIET, O_DATASET,
	       O_LATENT };
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "latent", required_argument, NULL, O_LATENT },
		{ "hidden", required_argument, NULL, O_HIDDEN },
		{ "hidden-act", required_argument, NULL, O_HACT },
		{ "latent-act", required_argument, NULL, O_LACT },
		{ "output-act", required_argument, NULL, O_OACT },
		{ "loss", required_argument, NULL, O_LOSS },
		{ "epochs", required_argument, NULL, O_EPOCHS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "lr", required_argument, NULL, O_LR },
		{ "seed", required_argument, NULL, O_SEED },
		{ "n-train", required_argument, NULL, O_NTRAIN },
		{ "n-val", required_argument, NULL, O_NVAL },
		{ "n-test", required_argument, NULL, O_NTEST },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "chunks", required_argument, NULL, O_CHUNKS },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->hidden[0] = 512;
	o->hidden[1] = 256;
	o->n_hidden = 2;
	o->hidden_act = o->latent_act = ACT_RELU;
	o->loss = LOSS_MSE;
	o->epochs = 10;
	o->batch = 256;
	o->chunks = TRAIN_DEFAULT_CHUNKS;
	o->threads = default_threads();
	o->lr = 1e-3;
	o->seed = 1;
	data_opts_defaults(&o->data);
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "option";
		switch (c) {
		case O_DATASET: o->dataset = optarg; break;
		case O_LATENT:
			if (parse_long("--latent", optarg, 1, 1 << 20, &o->latent))
				return -1;
			break;
		case O_HIDDEN:
			if ((o->n_hidden = parse_widths("--hidden", optarg, o->hidden,
							AE_MAX_HIDDEN)) < 0)
				return -1;
			break;
		case O_HACT:
		case O_LACT:
		case O_OACT: {
			enum act a;
			if (act_parse(optarg, &a)) {
				usage_error("%s takes relu, sigmoid or identity (got '%s')", name,
					    optarg);
				return -1;
			}
			if (c == O_HACT)
				o->hidden_act = a;
			else if (c == O_LACT)
				o->latent_act = a;
			else {
				o->output_act = a;
				o->output_act_given = 1;
			}
			break;
		}
		case O_LOSS:
			if (loss_parse(optarg, &o->loss)) {
				usage_error("--loss takes mse or bce (got '%s')", optarg);
				return -1;
			}
			break;
		case O_EPOCHS:
			if (parse_long("--epochs", optarg, 1, 1000000, &o->epochs))
				return -1;
			break;
		case O_BATCH:
			if (parse_long("--batch", optarg, 1, 1 << 20, &o->batch))
				return -1;
			break;
		case O_LR:
			if (parse_double("--lr", optarg, 1e-12, 1e6, &o->lr))
				return -1;
			break;
		case O_SEED:
			if (parse_long("--seed", optarg, 0, INT64_MAX, &o->seed))
				return -1;
			o->data.seed = (uint64_t)o->seed;
			break;
		case O_NTRAIN:
			if (parse_long("--n-train", optarg, 1, INT32_MAX, &o->data.n_train))
				return -1;
			break;
		case O_NVAL:
			if (parse_long("--n-val", optarg, 0, INT32_MAX, &o->data.n_val))
				return -1;
			break;
		case O_NTEST:
			if (parse_long("--n-test", optarg, 0, INT32_MAX, &o->data.n_test))
				return -1;
			break;
		case O_THREADS:
			if (parse_long("--threads", optarg, 1, 1024, &o->threads))
				return -1;
			break;
		case O_CHUNKS:
			if (parse_long("--chunks", optarg, 1, 1024, &o->chunks))
				return -1;
			break;
		case O_JSON: o->json = 1; break;
		case O_QUIET: o->quiet = 1; break;
		case 'h': train_help(stdout); exit(0);
		default:
			bad_option(c, argv, "train");
			return -1;
		}
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s' (see '%s train --help')", argv[optind], prog);
		return -1;
	}
	if (!o->dataset || !o->latent) {
		usage_error("train needs --dataset SPEC and --latent K (see '%s train --help')",
			    prog);
		return -1;
	}
	if (o->chunks > o->batch) {
		usage_error("--chunks (%ld) cannot exceed --batch (%ld)", o->chunks, o->batch);
		return -1;
	}
	return 0;
}

struct progress {
	int epochs;
	int quiet;
	double train_seconds;
	double seconds;
	int epochs_run;
	double last_train_loss;
	double last_val_mse;
};

static int train_progress(void *ctx, const struct epoch_report *e, struct ae *m)
{
	(void)m;
	struct progress *p = ctx;
	p->train_seconds += e->train_seconds;
	p->seconds += e->seconds;
	p->epochs_run = e->epoch;
	p->last_train_loss = e->train_loss;
	p->last_val_mse = e->val_mse;
	if (!p->quiet)
		fprintf(stderr, "epoch %*d/%d  loss %.6f  val_mse %.6f  %8.0f img/s  %6.2f s\n",
			p->epochs >= 100 ? 3 : 2, e->epoch, p->epochs, e->train_loss, e->val_mse,
			e->images_per_s, e->seconds);
	return 0;
}

static int cmd_train(int argc, char **argv)
{
	struct train_opts o;
	if (train_parse(argc, argv, &o))
		return EXIT_USAGE;
	omp_set_max_active_levels(1);
	struct dataset d;
	if (dataset_load(&d, o.dataset, &o.data)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	struct ae_arch arch = {
		.input_dim = d.dim,
		.n_hidden = o.n_hidden,
		.latent = (int)o.latent,
		.hidden_act = o.hidden_act,
		.latent_act = o.latent_act,
		.output_act = o.output_act_given ? o.output_act
						 : (d.unit_range ? ACT_SIGMOID : ACT_IDENTITY),
	};
	memcpy(arch.hidden, o.hidden, sizeof(arch.hidden));
	struct ae *m = ae_new(&arch);
	if (!m) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		dataset_free(&d);
		return EXIT_USAGE;
	}
	struct rng r;
	rng_seed(&r, (uint64_t)o.seed);
	ae_init(m, &r);
	struct progress prog_state = { .epochs = (int)o.epochs, .quiet = o.quiet };
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = (int)o.epochs;
	c.batch = (int)o.batch;
	c.chunks = (int)o.chunks;
	c.threads = (int)o.threads;
	c.adam.lr = (float)o.lr;
	c.loss = o.loss;
	c.on_epoch = train_progress;
	c.ctx = &prog_state;
	if (!o.quiet) {
		char kernel[256];
		blas_describe(kernel, sizeof(kernel));
		fprintf(stderr,
			"%s: %s, %zu train / %zu val / %zu test, D=%d; %zu parameters; %ld threads, "
			"%ld chunks; BLAS kernel %s\n",
			prog, o.dataset, d.train.n, d.val.n, d.test.n, d.dim, m->n_params,
			o.threads, o.chunks, kernel);
	}
	struct flops f = { 0 };
	int rc = ae_train(m, &d.train, &d.val, &c, &r, &f);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		ae_delete(m);
		dataset_free(&d);
		return EXIT_FAILED;
	}
	double train_mse = ae_eval_mse(m, &d.train, c.threads, &f);
	double val_mse = ae_eval_mse(m, &d.val, c.threads, &f);
	double test_mse = ae_eval_mse(m, &d.test, c.threads, &f);
	double ips = prog_state.train_seconds > 0
			     ? (double)d.train.n * prog_state.epochs_run / prog_state.train_seconds
			     : 0.0;
	double gflops = prog_state.train_seconds > 0
				? (double)f.train_gemm / prog_state.train_seconds / 1e9
				: 0.0;
	printf("latent %ld, %d epochs: MSE train %.6f, val %.6f, test %.6f; %.0f images/s, "
	       "%.1f GFLOP/s (training GEMMs), %.2f s\n",
	       o.latent, prog_state.epochs_run, train_mse, val_mse, test_mse, ips, gflops,
	       prog_state.seconds);
	printf("FLOPs: training GEMM %.4g, evaluation GEMM %.4g, element-wise %.4g, total %.4g\n",
	       (double)f.train_gemm, (double)f.eval_gemm, (double)f.elementwise,
	       (double)flops_total(&f));
	if (o.json)
		printf("{\"dataset\":\"%s\",\"latent\":%ld,\"epochs\":%d,\"batch\":%ld,"
		       "\"threads\":%ld,\"chunks\":%ld,\"seed\":%ld,\"n_train\":%zu,"
		       "\"train_mse\":%.9g,\"val_mse\":%.9g,\"test_mse\":%.9g,"
		       "\"flops_train_gemm\":%llu,\"flops_eval_gemm\":%llu,"
		       "\"flops_elementwise\":%llu,\"images_per_s\":%.1f,"
		       "\"train_gemm_gflops_per_s\":%.2f,\"seconds\":%.3f,"
		       "\"blas_core\":\"%s\"}\n",
		       d.name, o.latent, prog_state.epochs_run, o.batch, o.threads, o.chunks, o.seed,
		       d.train.n, train_mse, val_mse, test_mse, (unsigned long long)f.train_gemm,
		       (unsigned long long)f.eval_gemm, (unsigned long long)f.elementwise, ips,
		       gflops, prog_state.seconds, blas_core_name());
	ae_delete(m);
	dataset_free(&d);
	return 0;
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* First Ctrl-C or SIGTERM: finish cleanly (running trials are marked interrupted); a second
 * one kills at once (SA_RESETHAND restores the default action). */
static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- run ---- */

#define MAX_SELECTED 64

static void run_help(FILE *out)
{
	fprintf(out,
		"usage: %s run [--config FILE] [--experiment NAME ...] [--db PATH] [--threads N]\n"
		"              [--quiet]\n"
		"\n"
		"Run experiments from the configuration file, store every trial, epoch and decision\n"
		"in the database, then print the comparison. Trials already complete are not run\n"
		"again, so an interrupted run continues where it stopped.\n"
		"\n"
		"  --config FILE      experiments file (experiments.ini)\n"
		"  --experiment NAME  an experiment (a section of the file), or a group: NAME runs\n"
		"                     every [NAME.*] section; repeat for more (quick)\n"
		"  --db PATH          results database (%s)\n"
		"  --threads N        cores to use (%d, all); results do not depend on N\n"
		"  --quiet            no progress on stderr\n"
		"  -h, --help         this help\n"
		"\n"
		"Ctrl-C stops cleanly (a second Ctrl-C stops at once); run again to continue.\n",
		prog, STORE_DEFAULT_PATH, default_threads());
}

static int cmd_run(int argc, char **argv)
{
	enum { O_CONFIG = 256, O_EXPERIMENT, O_DB, O_THREADS, O_QUIET };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "db", required_argument, NULL, O_DB },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = "experiments.ini", *db = STORE_DEFAULT_PATH;
	const char *selected[MAX_SELECTED];
	int n_selected = 0, quiet = 0, c;
	long threads = default_threads();
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: config = optarg; break;
		case O_DB: db = optarg; break;
		case O_EXPERIMENT:
			if (n_selected == MAX_SELECTED) {
				usage_error("at most %d experiments at once", MAX_SELECTED);
				return EXIT_USAGE;
			}
			selected[n_selected++] = optarg;
			break;
		case O_THREADS:
			if (parse_long("--threads", optarg, 1, 1024, &threads))
				return EXIT_USAGE;
			break;
		case O_QUIET: quiet = 1; break;
		case 'h': run_help(stdout); return 0;
		default: bad_option(c, argv, "run"); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s' (experiments are named with --experiment)",
			    argv[optind]);
		return EXIT_USAGE;
	}
	if (n_selected == 0)
		selected[n_selected++] = "quick";
	struct experiment_file f;
	if (experiments_load(&f, config)) {
		fprintf(stderr, "%s", f.errors ? f.errors : "");
		fprintf(stderr, "%s: %d problem%s in %s; nothing was run\n", prog, f.n_errors,
			f.n_errors == 1 ? "" : "s", config);
		experiments_free(&f);
		return EXIT_USAGE;
	}
	/* names, and groups: "known-id" runs every [known-id.*] */
	const struct experiment *to_run[256];
	int n_to_run = 0;
	for (int i = 0; i < n_selected; i++) {
		int n = experiments_select(&f, selected[i], to_run + n_to_run, 256 - n_to_run);
		if (n == 0) {
			char known[2048] = "";
			for (int k = 0; k < f.n_exp; k++) {
				strncat(known, f.exp[k].name, sizeof(known) - strlen(known) - 3);
				if (k + 1 < f.n_exp)
					strcat(known, ", ");
			}
			usage_error("no experiment '%s' in %s (known: %s)", selected[i], config,
				    known);
			experiments_free(&f);
			return EXIT_USAGE;
		}
		n_to_run += n;
	}
	struct store *s = store_open(db, 1);
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		experiments_free(&f);
		return EXIT_USAGE;
	}
	omp_set_max_active_levels(2);
	catch_signals();
	struct run_options o = { .threads = (int)threads, .quiet = quiet, .stop = &stop_requested };
	int status = 0;
	for (int i = 0; i < n_to_run && !stop_requested; i++) {
		const struct experiment *e = to_run[i];
		struct run_result r;
		int rc = run_experiment(s, e, &o, &r);
		if (rc) {
			fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
			status = rc == RUN_BAD_INPUT ? EXIT_USAGE : EXIT_FAILED;
			break;
		}
		if (r.interrupted) {
			fprintf(stderr,
				"%s: interrupted; %d of %d trials of [%s] are stored as complete. "
				"Run the same command again to continue.\n",
				prog, r.already_complete + r.completed, r.trials, e->name);
			status = 130;
			break;
		}
		if (r.undecided)
			status = EXIT_FAILED;
		if (!quiet)
			fputc('\n', stdout);
		if (report_print(s, e->name, REPORT_TABLE, stdout) < 0) {
			fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
			status = EXIT_FAILED;
		}
	}
	if (stop_requested && status == 0)
		status = 130;
	store_close(s);
	experiments_free(&f);
	return status;
}

/* ---- report ---- */

static void report_help(FILE *out)
{
	fprintf(out,
		"usage: %s report [--db PATH] [--experiment NAME] [--format table|csv|json]\n"
		"\n"
		"Print the comparison of strategies from the database alone (the view\n"
		"v_comparison): chosen K, tuning and delivery FLOPs, the ratio to grid search,\n"
		"test MSE, probe accuracy and seconds, for the newest configuration of each\n"
		"experiment.\n"
		"\n"
		"  --db PATH          results database (%s)\n"
		"  --experiment NAME  one experiment (all)\n"
		"  --format F         table, csv, or json: one object per line (table)\n"
		"  -h, --help         this help\n",
		prog, STORE_DEFAULT_PATH);
}

static int cmd_report(int argc, char **argv)
{
	enum { O_DB = 256, O_EXPERIMENT, O_FORMAT };
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = STORE_DEFAULT_PATH, *experiment = NULL;
	enum report_format format = REPORT_TABLE;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_DB: db = optarg; break;
		case O_EXPERIMENT: experiment = optarg; break;
		case O_FORMAT:
			if (report_format_parse(optarg, &format)) {
				usage_error("--format takes table, csv or json (got '%s')", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': report_help(stdout); return 0;
		default: bad_option(c, argv, "report"); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s' (see '%s report --help')", argv[optind], prog);
		return EXIT_USAGE;
	}
	struct store *s = store_open(db, 0);
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	int rows = report_print(s, experiment, format, stdout);
	if (rows < 0)
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
	else if (rows == 0)
		fprintf(stderr, "%s: no decisions in %s%s%s yet (run 'dimsearch run%s%s')\n", prog,
			db, experiment ? " for experiment " : "", experiment ? experiment : "",
			experiment ? " --experiment " : "", experiment ? experiment : "");
	store_close(s);
	return rows < 0 ? EXIT_FAILED : rows == 0 ? EXIT_USAGE : 0;
}

/* ---- id ---- */

static void id_help(FILE *out)
{
	fprintf(out,
		"usage: %s id --dataset SPEC [--estimator lpca|mle|twonn|all] [--k N] [--n N]\n"
		"             [--seed S] [--threads T] [--json]\n"
		"       %s id --list\n"
		"\n"
		"Estimate the intrinsic dimension of a data set without training: local PCA\n"
		"(Fukunaga-Olsen: k = 100 neighbours, eigenvalues above 0.05 of the largest; mean\n"
		"and median over points, and global), MLE (Levina-Bickel, k = 20, MacKay-Ghahramani\n"
		"aggregation) and TwoNN (Facco et al.; the largest 10%% of ratios discarded).\n"
		"\n"
		"  --dataset SPEC   any dataset SPEC, e.g. M7_Roll:n=2500 or affine:d=5,D=50\n"
		"  --estimator E    lpca, mle, twonn or all (all)\n"
		"  --k N            neighbours for lpca and mle (100 and 20)\n"
		"  --n N            use at most N points (all; Fashion-MNIST is 60000: use --n)\n"
		"  --seed S         synthetic draws and subsampling (1)\n"
		"  --threads T      (%d, all cores)\n"
		"  --json           one JSON object per estimator and line\n"
		"  --list           the benchmark manifolds with their dimensions\n",
		prog, prog, default_threads());
}

static void id_list(void)
{
	printf("%-20s %9s %8s  %s\n", "manifold", "intrinsic", "ambient", "what");
	for (int i = 0; i < manifold_count(); i++) {
		const struct manifold *m = manifold_at(i);
		printf("%-20s %9d %8d  %s\n", m->name, m->d, m->dim, m->what);
	}
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static int cmd_id(int argc, char **argv)
{
	enum { O_DATASET = 256, O_ESTIMATOR, O_K, O_N, O_SEED, O_THREADS, O_JSON, O_LIST };
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "estimator", required_argument, NULL, O_ESTIMATOR },
		{ "k", required_argument, NULL, O_K },
		{ "n", required_argument, NULL, O_N },
		{ "seed", required_argument, NULL, O_SEED },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "json", no_argument, NULL, O_JSON },
		{ "list", no_argument, NULL, O_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *which = "all";
	long k = 0, n = 0, seed = 1, threads = default_threads();
	int json = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_DATASET: spec = optarg; break;
		case O_ESTIMATOR:
			if (strcmp(optarg, "lpca") && strcmp(optarg, "mle") &&
			    strcmp(optarg, "twonn") && strcmp(optarg, "all")) {
				usage_error("--estimator takes lpca, mle, twonn or all (got '%s')",
					    optarg);
				return EXIT_USAGE;
			}
			which = optarg;
			break;
		case O_K:
			if (parse_long("--k", optarg, 2, 100000, &k))
				return EXIT_USAGE;
			break;
		case O_N:
			if (parse_long("--n", optarg, 3, INT32_MAX, &n))
				return EXIT_USAGE;
			break;
		case O_SEED:
			if (parse_long("--seed", optarg, 0, INT64_MAX, &seed))
				return EXIT_USAGE;
			break;
		case O_THREADS:
			if (parse_long("--threads", optarg, 1, 1024, &threads))
				return EXIT_USAGE;
			break;
		case O_JSON: json = 1; break;
		case O_LIST: id_list(); return 0;
		case 'h': id_help(stdout); return 0;
		default: bad_option(c, argv, "id"); return EXIT_USAGE;
		}
	}
	if (optind < argc || !spec) {
		usage_error("id needs --dataset SPEC (see '%s id --help')", prog);
		return EXIT_USAGE;
	}
	/* every point in one pool: no validation or test split */
	struct data_opts o = { .n_train = n, .n_val = 0, .n_test = 0, .seed = (uint64_t)seed };
	struct dataset d;
	if (dataset_load(&d, spec, &o)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	const struct split *s = &d.train;
	int all = !strcmp(which, "all");
	int k_lpca = (int)(k ? k : 100), k_mle = (int)(k ? k : 20);
	int need = 2;
	if (all || !strcmp(which, "lpca"))
		need = k_lpca > need ? k_lpca : need;
	if (all || !strcmp(which, "mle"))
		need = k_mle > need ? k_mle : need;
	if ((size_t)need >= s->n) {
		fprintf(stderr, "%s: %s has %zu points: too few for %d neighbours (use a smaller "
				"--k or more points)\n",
			prog, spec, s->n, need);
		dataset_free(&d);
		return EXIT_USAGE;
	}
	char truth[64] = "";
	if (d.true_dim > 0)
		snprintf(truth, sizeof(truth), ", true dimension %g", d.true_dim);
	if (!json)
		printf("%s: %zu points in R^%d%s\n", spec, s->n, s->dim, truth);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t knn_flops = 0;
	struct knn nn;
	if (knn_search(s->x, s->n, s->dim, need, (int)threads, &nn, &knn_flops)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		dataset_free(&d);
		return EXIT_FAILED;
	}
	double knn_seconds = seconds_since(&t0);
	const char *names[] = { "lpca", "mle", "twonn" };
	int status = 0;
	for (int e = 0; e < 3; e++) {
		if (!all && strcmp(which, names[e]))
			continue;
		/* each estimator is charged the neighbour search it needs */
		uint64_t flops = knn_flops;
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		struct lpca_result lp = { NAN, NAN, NAN };
		double estimate = NAN;
		if (e == 0 && !id_lpca(s->x, s->n, s->dim, &nn, k_lpca, 0.05, (int)threads, &lp,
				       &flops))
			estimate = lp.mean;
		else if (e == 1)
			estimate = id_mle(&nn, k_mle, &flops);
		else if (e == 2)
			estimate = id_twonn(&nn, 0.1, &flops);
		if (isnan(estimate)) {
			fprintf(stderr, "%s: %s: %s\n", prog, names[e], ds_errmsg());
			status = EXIT_FAILED;
			continue;
		}
		double secs = knn_seconds + seconds_since(&t1);
		if (json) {
			printf("{\"dataset\":\"%s\",\"estimator\":\"%s\",\"estimate\":%.6g,", spec,
			       names[e], estimate);
			if (e == 0)
				printf("\"median\":%.6g,\"global\":%.6g,\"k\":%d,", lp.median,
				       lp.global, k_lpca);
			if (e == 1)
				printf("\"k\":%d,", k_mle);
			if (d.true_dim > 0)
				printf("\"true_dimension\":%g,", d.true_dim);
			printf("\"n\":%zu,\"ambient_dimension\":%d,\"flops\":%llu,\"seconds\":%.4f}\n",
			       s->n, s->dim, (unsigned long long)flops, secs);
		} else {
			char note[96] = "";
			if (e == 0)
				snprintf(note, sizeof(note), "median %g, global %g, k = %d", lp.median,
					 lp.global, k_lpca);
			else if (e == 1)
				snprintf(note, sizeof(note), "k = %d", k_mle);
			else
				snprintf(note, sizeof(note), "largest 10%% of ratios dropped");
			printf("  %-6s %7.3f   %-34s %10.3g FLOPs %7.2f s\n", names[e], estimate,
			       note, (double)flops, secs);
		}
	}
	knn_free(&nn);
	dataset_free(&d);
	return status;
}

/* ---- plot ---- */

static void plot_help(FILE *out)
{
	fprintf(out,
		"usage: %s plot [--db PATH] [--experiment NAME] [--out DIR]\n"
		"\n"
		"Draw the figures of an experiment from the database alone, as PNG and SVG:\n"
		"tuning FLOPs per strategy, the grid curve with each strategy's choice, active units\n"
		"per epoch, SOSAE's activity profile, error against FLOPs, and (over every experiment\n"
		"of known dimension) chosen K against the true dimension. The data behind each is\n"
		"written to DIR/data/NAME/, and the gnuplot scripts in plots/ draw it again by hand.\n"
		"\n"
		"  --db PATH          results database (%s)\n"
		"  --experiment NAME  the experiment (quick)\n"
		"  --out DIR          where the images go (plots/out)\n"
		"  -h, --help         this help\n",
		prog, STORE_DEFAULT_PATH);
}

/* plots/ beside the executable, where the .gp scripts live */
static void scripts_dir(char *buf, size_t size)
{
	char exe[2048];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(buf, size, "plots");
		return;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, size, "%s/plots", exe);
}

static int cmd_plot(int argc, char **argv)
{
	enum { O_DB = 256, O_EXPERIMENT, O_OUT };
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "out", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = STORE_DEFAULT_PATH, *experiment = "quick", *out = "plots/out";
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_DB: db = optarg; break;
		case O_EXPERIMENT: experiment = optarg; break;
		case O_OUT: out = optarg; break;
		case 'h': plot_help(stdout); return 0;
		default: bad_option(c, argv, "plot"); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s' (see '%s plot --help')", argv[optind], prog);
		return EXIT_USAGE;
	}
	char gnuplot[4096], scripts[2100];
	if (plot_find_gnuplot(gnuplot, sizeof(gnuplot))) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	scripts_dir(scripts, sizeof(scripts));
	struct store *s = store_open(db, 0);
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	long id = 0;
	if (store_latest_experiment(s, experiment, &id) || !id) {
		/* a group such as known-id: its figures are drawn per experiment */
		char member[128];
		const char *args[] = { experiment, NULL };
		store_scalar(s, "SELECT name FROM experiment WHERE substr(name, 1, length(?1) + 1) = "
				"?1 || '.' ORDER BY name LIMIT 1",
			     args, member, sizeof(member), "");
		if (member[0])
			fprintf(stderr, "%s: '%s' is a group of experiments: draw one of them, e.g. "
					"--experiment %s (the figure of every experiment of known "
					"dimension, known-id-knownid, comes with any of them)\n",
				prog, experiment, member);
		else
			fprintf(stderr, "%s: no experiment '%s' in %s (run 'dimsearch run "
					"--experiment %s')\n",
				prog, experiment, db, experiment);
		store_close(s);
		return EXIT_USAGE;
	}
	int made = plot_render(s, experiment, scripts, out, gnuplot);
	store_close(s);
	if (made < 0) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_FAILED;
	}
	printf("%d figures of %s in %s (PNG and SVG; data in %s/data/%s)\n", made, experiment, out,
	       out, experiment);
	return 0;
}

/* ---- dispatch ---- */

static void main_help(FILE *out)
{
	fprintf(out,
		"usage: %s COMMAND [options]\n"
		"\n"
		"How wide should an autoencoder's latent layer be, and what does finding out cost?\n"
		"\n"
		"commands:\n"
		"  run        run experiments from experiments.ini into the results database\n"
		"  report     print the comparison of strategies from the database\n"
		"  train      train one autoencoder; report MSE, images/s and FLOPs\n"
		"  id         estimate a data set's intrinsic dimension (local PCA, MLE, TwoNN)\n"
		"  plot       draw an experiment's figures with gnuplot (PNG and SVG)\n"
		"\n"
		"  --version  version and the BLAS kernel in use\n"
		"  --help     this help; '%s COMMAND --help' for a command's options\n",
		prog, prog);
}

static void print_version(void)
{
	char kernel[256];
	blas_describe(kernel, sizeof(kernel));
	printf("dimsearch %s\n", DIMSEARCH_VERSION);
	printf("BLAS: %s\n", blas_config());
	printf("BLAS kernel: %s\n", kernel);
	printf("threads: %d (OpenMP; one BLAS thread each)\n", default_threads());
}

int main(int argc, char **argv)
{
	blas_select_kernel(argv);
	blas_single_thread();
	if (argc < 2) {
		main_help(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		main_help(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		print_version();
		return 0;
	}
	if (!strcmp(cmd, "train"))
		return cmd_train(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "id"))
		return cmd_id(argc - 1, argv + 1);
	if (!strcmp(cmd, "plot"))
		return cmd_plot(argc - 1, argv + 1);
	usage_error("unknown command '%s' (see '%s --help')", cmd, prog);
	return EXIT_USAGE;
}
