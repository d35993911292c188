/* dimsearch.c: the command line: a table of commands, their options, and every exit code. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "baselines/idest.h"
#include "baselines/idstrategy.h"
#include "core/blas.h"
#include "core/data.h"
#include "core/err.h"
#include "core/flops.h"
#include "core/manifolds.h"
#include "core/model.h"
#include "core/model_io.h"
#include "core/train.h"
#include "results/plot.h"
#include "results/report.h"
#include "results/store.h"
#include "search/cluster.h"
#include "search/experiment.h"
#include "search/models.h"
#include "search/scheduler.h"
#include "strategies.h"

#define DIMSEARCH_VERSION "0.1.0"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

static const char *prog = "dimsearch";

/* The command line as typed, for the hint that repeats it after an interruption. */
static int command_argc;
static char **command_argv;

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

/* A whole number option in [lo, hi], or a message naming the option. */
static int parse_long(const char *opt, const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (end == text || *end || errno || v < lo || v > hi) {
		usage_error("%s takes a whole number from %ld to %ld (got '%s')", opt, lo, hi,
			    text);
		return -1;
	}
	*out = v;
	return 0;
}

/* A number option in [lo, hi], or a message naming the option. */
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

/* "512,256" into widths, by the rule experiments.ini's hidden key follows; the count or -1 */
static int parse_widths(const char *opt, const char *text, int *widths, int max)
{
	char why[512];
	int n = setting_widths(text, widths, max, why, sizeof(why));
	if (n < 0)
		usage_error("%s: %s", opt, why);
	return n;
}

/* "key":v for JSON, then after (json_number: null for NaN or infinity). */
static void json_number_out(const char *key, double v, const char *after)
{
	char buf[32];
	printf("\"%s\":%s%s", key, json_number(buf, v), after);
}

static int default_threads(void)
{
	int n = omp_get_num_procs();
	return n > 0 ? n : 1;
}

enum { OPTIONS_OK = 0, OPTIONS_HELP = 1, OPTIONS_BAD = -1 };

/* The options of one command, the same way for all: getopt_long over opts, each option to
 * fn (which prints its own message and returns non-zero for a bad value), --help to help,
 * no arguments besides options. OPTIONS_OK, OPTIONS_HELP (help printed) or OPTIONS_BAD
 * (message printed). */
static int parse_options(int argc, char **argv, const char *command, const struct option *opts,
			 int (*fn)(void *ctx, int code, const char *arg), void *ctx,
			 void (*help)(FILE *out))
{
	opterr = 0;
	optind = 0; /* 0, not 1: GNU getopt then starts afresh, also inside one process */
	int c;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			return OPTIONS_HELP;
		}
		if (c == ':' || c == '?') {
			if (c == ':')
				usage_error("%s needs a value (see '%s %s --help')",
					    argv[optind - 1], prog, command);
			else
				usage_error("unknown option '%s' (see '%s %s --help')",
					    argv[optind - 1], prog, command);
			return OPTIONS_BAD;
		}
		if (fn(ctx, c, optarg))
			return OPTIONS_BAD;
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s' (see '%s %s --help')", argv[optind], prog,
			    command);
		return OPTIONS_BAD;
	}
	return OPTIONS_OK;
}

/* The exit status of parse_options' result: -1 to go on. */
static int options_exit(int r)
{
	return r == OPTIONS_HELP ? 0 : r == OPTIONS_BAD ? EXIT_USAGE : -1;
}

/* ---- train ---- */

struct train_opts {
	const char *dataset;
	long latent;
	int hidden[AE_MAX_HIDDEN];
	int n_hidden, hidden_given;
	int conv;                  /* --arch conv */
	int channels[AE_MAX_CONV];
	int n_channels;
	long kernel;
	int shape[3];              /* --shape; 0 0 0: the data's own */
	enum act hidden_act, latent_act;
	int output_act; /* -1: by the data */
	enum loss loss;
	long epochs, batch, chunks, threads;
	double lr;
	long seed;
	struct data_opts data;
	int json, quiet;
};

/* The help of train. */
static void train_help(FILE *out)
{
	fprintf(out,
		"usage: %s train --dataset SPEC --latent K [options]\n"
		"\n"
		"Train one autoencoder D-h1-...-K-...-h1-D and report its reconstruction error,\n"
		"speed and FLOPs. Progress goes to stderr, one line per epoch.\n"
		"\n"
		"  --dataset SPEC     fashion-mnist | mnist | idx:IMAGES[,LABELS]\n"
		"                     | csv:PATH[,label=last] | affine:d=5,D=50,n=4000,noise=0.01\n"
		"                     | sphere:d=2,D=3,n=4000 | swissroll:D=3,n=4000,noise=0\n"
		"                     | sine:d=4,D=16,n=4000,noise=0.1\n"
		"                     | a benchmark manifold: M1_Sphere:n=2500,noise=0 ...\n"
		"                       ('%s id --list' lists them)\n"
		"  --latent K         latent width (required)\n"
		"  --hidden LIST      encoder hidden widths, mirrored in the decoder (%s);\n"
		"                     with --arch conv, one layer of half the flattened size\n"
		"  --arch A           dense | conv (dense): conv puts stride-2 convolutional\n"
		"                     blocks with batch norm before the dense layers and\n"
		"                     transposed ones after them, back to the image's size\n"
		"  --channels LIST    conv: each block's output channels (%s)\n"
		"  --kernel K         conv: the kernel side, odd (%d)\n"
		"  --shape CxHxW      conv: an example's shape (the image files' own for\n"
		"                     fashion-mnist, mnist and idx data; needed for csv)\n"
		"  --hidden-act A     relu | sigmoid | identity (relu)\n"
		"  --latent-act A     activation of the code layer (relu)\n"
		"  --output-act A     (sigmoid when the data lies in [0,1], else identity)\n"
		"  --loss L           mse | bce (mse)\n"
		"  --epochs E         (%d)\n"
		"  --batch B          (%d)\n"
		"  --lr X             Adam step size (%g)\n"
		"  --seed S           initialisation, shuffling, splits and synthetic data (1)\n"
		"  --n-train N        keep at most N training examples (all)\n"
		"  --n-val N          validation examples (Fashion-MNIST 5000, others 10%%)\n"
		"  --n-test N         test examples (Fashion-MNIST 10000, others 10%%)\n"
		"  --threads T        OpenMP threads (%d, all cores); results do not depend on T\n"
		"  --chunks C         cut each batch into C chunks of rows, one per thread (%d:\n"
		"                     the threads share each layer); results depend on C, so\n"
		"                     keep it fixed when comparing\n"
		"  --json             the summary as one JSON object, alone on stdout (the\n"
		"                     summary lines go to stderr)\n"
		"  --quiet            no per-epoch progress\n"
		"  -h, --help         this help\n",
		prog, prog, AE_DEFAULT_HIDDEN, AE_DEFAULT_CHANNELS, AE_DEFAULT_KERNEL,
		TRAIN_DEFAULT_EPOCHS, TRAIN_DEFAULT_BATCH,
		TRAIN_DEFAULT_LR, default_threads(), TRAIN_DEFAULT_CHUNKS);
}

enum {
	O_HIDDEN = 256,
	O_HACT,
	O_LACT,
	O_OACT,
	O_LOSS,
	O_EPOCHS,
	O_BATCH,
	O_LR,
	O_SEED,
	O_NTRAIN,
	O_NVAL,
	O_NTEST,
	O_THREADS,
	O_CHUNKS,
	O_JSON,
	O_QUIET,
	O_DATASET,
	O_LATENT,
	O_CONFIG,
	O_EXPERIMENT,
	O_DB,
	O_FORMAT,
	O_ESTIMATOR,
	O_K,
	O_N,
	O_LIST,
	O_OUT,
	O_SET,
	O_PLAN,
	O_RANKS,
	O_STRATEGY,
	O_MODEL,
	O_ARCH,
	O_CHANNELS,
	O_KERNEL,
	O_SHAPE
};

/* --hidden-act, --latent-act, --output-act */
static int train_activation(struct train_opts *o, int code, const char *arg)
{
	enum act a;
	if (act_parse(arg, &a)) {
		usage_error("--%s takes relu, sigmoid or identity (got '%s')",
			    code == O_HACT   ? "hidden-act"
			    : code == O_LACT ? "latent-act"
					     : "output-act",
			    arg);
		return -1;
	}
	if (code == O_HACT)
		o->hidden_act = a;
	else if (code == O_LACT)
		o->latent_act = a;
	else
		o->output_act = (int)a;
	return 0;
}

/* One option of train. */
static int train_option(void *ctx, int code, const char *arg)
{
	struct train_opts *o = ctx;
	switch (code) {
	case O_DATASET: o->dataset = arg; return 0;
	case O_LATENT: return parse_long("--latent", arg, 1, 1 << 20, &o->latent);
	case O_HIDDEN:
		o->n_hidden = parse_widths("--hidden", arg, o->hidden, AE_MAX_HIDDEN);
		o->hidden_given = 1;
		return o->n_hidden < 0 ? -1 : 0;
	case O_ARCH:
		if (strcmp(arg, "dense") && strcmp(arg, "conv")) {
			usage_error("--arch takes dense or conv (got '%s')", arg);
			return -1;
		}
		o->conv = !strcmp(arg, "conv");
		return 0;
	case O_CHANNELS:
		o->n_channels = parse_widths("--channels", arg, o->channels, AE_MAX_CONV);
		if (o->n_channels == 0)
			usage_error("--channels needs at least one block's channels, e.g. 32,64");
		return o->n_channels < 1 ? -1 : 0;
	case O_KERNEL:
		if (parse_long("--kernel", arg, 1, 31, &o->kernel))
			return -1;
		if (o->kernel % 2 == 0) {
			usage_error("--kernel must be odd (got %ld)", o->kernel);
			return -1;
		}
		return 0;
	case O_SHAPE: {
		int used = 0;
		if (sscanf(arg, "%dx%dx%d%n", &o->shape[0], &o->shape[1], &o->shape[2], &used) != 3 ||
		    arg[used] || o->shape[0] < 1 || o->shape[1] < 1 || o->shape[2] < 1) {
			usage_error("--shape takes CxHxW with positive sizes, e.g. 1x28x28 (got "
				    "'%s')",
				    arg);
			return -1;
		}
		return 0;
	}
	case O_HACT:
	case O_LACT:
	case O_OACT: return train_activation(o, code, arg);
	case O_LOSS:
		if (loss_parse(arg, &o->loss)) {
			usage_error("--loss takes mse or bce (got '%s')", arg);
			return -1;
		}
		return 0;
	case O_EPOCHS: return parse_long("--epochs", arg, 1, 1000000, &o->epochs);
	case O_BATCH: return parse_long("--batch", arg, 1, 1 << 20, &o->batch);
	case O_LR: return parse_double("--lr", arg, 1e-12, 1e6, &o->lr);
	case O_SEED:
		if (parse_long("--seed", arg, 0, INT64_MAX, &o->seed))
			return -1;
		o->data.seed = (uint64_t)o->seed;
		return 0;
	case O_NTRAIN: return parse_long("--n-train", arg, 1, INT32_MAX, &o->data.n_train);
	case O_NVAL: return parse_long("--n-val", arg, 0, INT32_MAX, &o->data.n_val);
	case O_NTEST: return parse_long("--n-test", arg, 0, INT32_MAX, &o->data.n_test);
	case O_THREADS: return parse_long("--threads", arg, 1, 1024, &o->threads);
	case O_CHUNKS: return parse_long("--chunks", arg, 1, 1024, &o->chunks);
	case O_JSON: o->json = 1; return 0;
	case O_QUIET: o->quiet = 1; return 0;
	}
	return -1;
}

/* train's options over the defaults of core/train.h: OPTIONS_OK, _HELP or _BAD */
static int train_parse(int argc, char **argv, struct train_opts *o)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "latent", required_argument, NULL, O_LATENT },
		{ "hidden", required_argument, NULL, O_HIDDEN },
		{ "arch", required_argument, NULL, O_ARCH },
		{ "channels", required_argument, NULL, O_CHANNELS },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "shape", required_argument, NULL, O_SHAPE },
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
	struct train_cfg defaults;
	train_cfg_defaults(&defaults);
	memset(o, 0, sizeof(*o));
	o->n_hidden = parse_widths("hidden", AE_DEFAULT_HIDDEN, o->hidden, AE_MAX_HIDDEN);
	o->n_channels = parse_widths("channels", AE_DEFAULT_CHANNELS, o->channels, AE_MAX_CONV);
	o->kernel = AE_DEFAULT_KERNEL;
	o->hidden_act = o->latent_act = ACT_RELU;
	o->output_act = -1;
	o->loss = defaults.loss;
	o->epochs = defaults.epochs;
	o->batch = defaults.batch;
	o->chunks = defaults.chunks;
	o->threads = default_threads();
	o->lr = TRAIN_DEFAULT_LR;
	o->seed = 1;
	data_opts_defaults(&o->data);
	int r = parse_options(argc, argv, "train", opts, train_option, o, train_help);
	if (r != OPTIONS_OK)
		return r;
	if (!o->dataset || !o->latent) {
		usage_error("train needs --dataset SPEC and --latent K (see '%s train --help')",
			    prog);
		return OPTIONS_BAD;
	}
	if (o->chunks > o->batch) {
		usage_error("--chunks (%ld) cannot exceed --batch (%ld)", o->chunks, o->batch);
		return OPTIONS_BAD;
	}
	if (!o->conv && o->shape[0]) {
		usage_error("--shape is for --arch conv");
		return OPTIONS_BAD;
	}
	return OPTIONS_OK;
}

struct progress {
	int epochs;
	int quiet;
	double train_seconds;
	double sgemm_seconds;
	double seconds;
	int epochs_run;
};

/* One line per epoch on stderr, and the times for the summary. */
static int train_progress(void *ctx, const struct epoch_report *e, struct ae *m)
{
	(void)m;
	struct progress *p = ctx;
	p->train_seconds += e->train_seconds;
	p->sgemm_seconds += e->sgemm_seconds;
	p->seconds += e->seconds;
	p->epochs_run = e->epoch;
	if (!p->quiet)
		fprintf(stderr, "epoch %*d/%d  loss %.6f  val_mse %.6f  %8.0f img/s  %6.2f s\n",
			p->epochs >= 100 ? 3 : 2, e->epoch, p->epochs, e->train_loss, e->val_mse,
			e->images_per_s, e->seconds);
	return 0;
}

/* The summary lines of a trained model, and its JSON with --json: then the lines go to
 * stderr and the JSON alone to stdout, so that a pipe into jq works. */
static void train_summary(const struct train_opts *o, const struct dataset *d,
			  const struct progress *p, const struct flops *f, double train_mse,
			  double val_mse, double test_mse)
{
	double ips =
		p->train_seconds > 0 ? (double)d->train.n * p->epochs_run / p->train_seconds : 0.0;
	double gflops = p->train_seconds > 0 ? (double)f->train_gemm / p->train_seconds / 1e9 : 0.0;
	/* the share of the threads' training time spent in sgemm */
	double share =
		p->train_seconds > 0 ? p->sgemm_seconds / (p->train_seconds * (double)o->threads) : 0.0;
	FILE *text = o->json ? stderr : stdout;
	fprintf(text,
		"latent %ld, %d epochs: MSE train %.6f, val %.6f, test %.6f; %.0f images/s, "
		"%.1f GFLOP/s (training GEMMs, %.0f%% of the training time in sgemm), %.2f s\n",
		o->latent, p->epochs_run, train_mse, val_mse, test_mse, ips, gflops, 100 * share,
		p->seconds);
	fprintf(text,
		"FLOPs: training GEMM %.4g, evaluation GEMM %.4g, element-wise %.4g, total %.4g\n",
		(double)f->train_gemm, (double)f->eval_gemm, (double)f->elementwise,
		(double)flops_total(f));
	if (o->json) {
		printf("{\"dataset\":");
		report_json_string(stdout, d->name);
		printf(",\"latent\":%ld,\"epochs\":%d,\"batch\":%ld,\"threads\":%ld,\"chunks\":%ld,"
		       "\"seed\":%ld,\"n_train\":%zu,",
		       o->latent, p->epochs_run, o->batch, o->threads, o->chunks, o->seed,
		       d->train.n);
		json_number_out("train_mse", train_mse, ",");
		json_number_out("val_mse", val_mse, ",");
		json_number_out("test_mse", test_mse, ",");
		printf("\"flops_train_gemm\":%llu,\"flops_eval_gemm\":%llu,\"flops_elementwise\":%llu,"
		       "\"images_per_s\":%.1f,\"train_gemm_gflops_per_s\":%.2f,"
		       "\"train_sgemm_share\":%.3f,\"seconds\":%.3f,\"blas_core\":",
		       (unsigned long long)f->train_gemm, (unsigned long long)f->eval_gemm,
		       (unsigned long long)f->elementwise, ips, gflops, share, p->seconds);
		report_json_string(stdout, blas_core_name());
		printf("}\n");
	}
}

/* dimsearch train: one autoencoder, its errors, speed and FLOPs. */
static int cmd_train(int argc, char **argv)
{
	struct train_opts o;
	int r = options_exit(train_parse(argc, argv, &o));
	if (r >= 0)
		return r;
	omp_set_max_active_levels(1);
	omp_set_num_threads((int)o.threads); /* loading too uses no more than --threads */
	struct dataset d;
	if (dataset_load(&d, o.dataset, &o.data)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	struct ae_arch arch = ae_arch_plain(d.dim, o.hidden, o.n_hidden, (int)o.latent,
					    o.hidden_act, o.latent_act, o.output_act, d.unit_range);
	if (o.conv) {
		const int *shape = o.shape[0] ? o.shape : d.image;
		if (!shape[0]) {
			fprintf(stderr,
				"%s: --arch conv: %s does not say its examples' image shape; give "
				"--shape CxHxW (C H W = %d)\n",
				prog, o.dataset, d.dim);
			dataset_free(&d);
			return EXIT_USAGE;
		}
		arch = ae_arch_conv(shape[0], shape[1], shape[2], o.channels, o.n_channels,
				    (int)o.kernel, o.hidden, o.hidden_given ? o.n_hidden : 0,
				    (int)o.latent, o.hidden_act, o.latent_act, o.output_act,
				    d.unit_range);
		arch.input_dim = d.dim; /* a --shape that does not hold the data is refused */
	}
	struct ae *m = ae_new(&arch);
	if (!m) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		dataset_free(&d);
		return EXIT_USAGE;
	}
	struct rng rng;
	rng_seed(&rng, (uint64_t)o.seed);
	ae_init(m, &rng);
	struct progress p = { .epochs = (int)o.epochs, .quiet = o.quiet };
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = (int)o.epochs;
	c.batch = (int)o.batch;
	c.chunks = (int)o.chunks;
	c.threads = (int)o.threads;
	c.adam.lr = (float)o.lr;
	c.loss = o.loss;
	c.on_epoch = train_progress;
	c.ctx = &p;
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
	int rc = ae_train(m, &d.train, &d.val, &c, &rng, &f);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		ae_delete(m);
		dataset_free(&d);
		return EXIT_FAILED;
	}
	double train_mse = ae_eval_mse(m, &d.train, c.threads, &f);
	double val_mse = ae_eval_mse(m, &d.val, c.threads, &f);
	double test_mse = ae_eval_mse(m, &d.test, c.threads, &f);
	train_summary(&o, &d, &p, &f, train_mse, val_mse, test_mse);
	ae_delete(m);
	dataset_free(&d);
	return 0;
}

/* The command line as the user typed it, each word shell-quoted where it needs to be, into
 * buf (cut short, with "...", when it does not fit). */
static void command_line(char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < command_argc && n + 1 < size; i++) {
		const char *w = command_argv[i];
		int plain = *w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789_./=:,+-@%") == strlen(w);
		if (i)
			buf[n++] = ' ';
		if (!plain && n + 1 < size)
			buf[n++] = '\'';
		for (const char *c = w; *c && n + 5 < size; c++) {
			if (!plain && *c == '\'') { /* end the quote, an escaped ', quote again */
				memcpy(buf + n, "'\\''", 4);
				n += 4;
			} else {
				buf[n++] = *c;
			}
		}
		if (!plain && n + 1 < size)
			buf[n++] = '\'';
		buf[n] = '\0';
	}
	if (n + 5 >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* First Ctrl-C or SIGTERM: finish cleanly (running trials are marked interrupted, a plot
 * removes what it staged); a second one kills at once (SA_RESETHAND restores the default
 * action). No SA_RESTART: a wait for gnuplot returns when the signal comes. */
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

/* Where plot writes unless told: never a folder of tracked files (README's figures live in
 * docs/figures/), so a user's plot cannot overwrite them. */
#define PLOT_DEFAULT_OUT "plots/out"

/* The help of run. */
static void run_help(FILE *out)
{
	fprintf(out,
		"usage: %s run [--config FILE] [--experiment NAME ...] [--db PATH] [--threads N]\n"
		"              [--quiet] [--plan [--ranks N,N,...]]\n"
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
		"  --plan             train nothing: print the schedule and projected wall time on\n"
		"                     --ranks ranks of --threads threads each, from the trials' FLOPs\n"
		"                     and this machine's speed, timed now\n"
		"  --ranks N,N,...    rank counts for --plan (1,2,4,8,16,32,64)\n"
		"  -h, --help         this help\n"
		"\n"
		"Ctrl-C stops cleanly (a second Ctrl-C stops at once); run again to continue.\n"
		"Across machines: mpirun -np N %s-mpi run ... (make mpi; see the README, 'On a\n"
		"cluster'): rank 0 owns the database, every rank runs --threads trials at a time.\n",
		prog, STORE_DEFAULT_PATH, default_threads(), prog);
}

#define MAX_PLAN_RANKS 16

struct run_opts {
	const char *config, *db;
	const char *selected[MAX_SELECTED];
	int n_selected, quiet, plan;
	long threads;
	int ranks[MAX_PLAN_RANKS], n_ranks;
};

/* One option of run. */
static int run_option(void *ctx, int code, const char *arg)
{
	struct run_opts *o = ctx;
	switch (code) {
	case O_CONFIG: o->config = arg; return 0;
	case O_DB: o->db = arg; return 0;
	case O_EXPERIMENT:
		if (o->n_selected == MAX_SELECTED) {
			usage_error("at most %d experiments at once", MAX_SELECTED);
			return -1;
		}
		o->selected[o->n_selected++] = arg;
		return 0;
	case O_THREADS: return parse_long("--threads", arg, 1, 1024, &o->threads);
	case O_QUIET: o->quiet = 1; return 0;
	case O_PLAN: o->plan = 1; return 0;
	case O_RANKS:
		o->n_ranks = parse_widths("--ranks", arg, o->ranks, MAX_PLAN_RANKS);
		return o->n_ranks < 0 ? -1 : 0;
	}
	return -1;
}

/* "no experiment NAME in FILE (known: ...)", the list as long as it needs */
static void unknown_experiment(const struct experiment_file *f, const char *name,
			       const char *config)
{
	size_t len = 1;
	for (int k = 0; k < f->n_exp; k++)
		len += strlen(f->exp[k].name) + 2;
	char *known = malloc(len);
	if (!known) {
		usage_error("no experiment '%s' in %s", name, config);
		return;
	}
	known[0] = '\0';
	for (int k = 0; k < f->n_exp; k++) {
		strcat(known, f->exp[k].name);
		if (k + 1 < f->n_exp)
			strcat(known, ", ");
	}
	usage_error("no experiment '%s' in %s (known: %s)", name, config, known);
	free(known);
}

/* The experiments named (or grouped: "known-id" selects every [known-id.*]) into to_run, in
 * order; their count, or -1 with the message printed. */
static int select_experiments(const struct experiment_file *f, const struct run_opts *o,
			      const struct experiment **to_run, int max)
{
	int n_to_run = 0;
	for (int i = 0; i < o->n_selected; i++) {
		int n = experiments_select(f, o->selected[i], to_run + n_to_run, max - n_to_run);
		if (n == 0) {
			unknown_experiment(f, o->selected[i], o->config);
			return -1;
		}
		n_to_run += n;
	}
	return n_to_run;
}

/* Run each experiment and print its table; the exit status. */
static int run_all(struct store *s, const struct experiment *const *to_run, int n,
		   const struct run_opts *ro)
{
	/* the delivered models beside the database, for 'dimsearch export' */
	char models[4096];
	snprintf(models, sizeof(models), "%s%s", ro->db, MODELS_SUFFIX);
	struct run_options o = { .threads = (int)ro->threads,
				 .quiet = ro->quiet,
				 .stop = &stop_requested,
				 .model_root = models };
	int status = 0;
	for (int i = 0; i < n && !stop_requested; i++) {
		const struct experiment *e = to_run[i];
		struct run_result r;
		/* what the file did not say, before any of it trains (k_max 64 without a grid) */
		if (!ro->quiet)
			fputs(e->defaults, stderr);
		enum run_status rc = run_experiment(s, e, &o, &r);
		if (rc == RUN_OK && store_check(s))
			rc = RUN_FAILED;
		if (rc != RUN_OK) {
			fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
			status = rc == RUN_BAD_INPUT ? EXIT_USAGE : EXIT_FAILED;
			break;
		}
		if (r.interrupted) {
			char again[2048];
			command_line(again, sizeof(again));
			fprintf(stderr,
				"%s: interrupted; %d of %d trials of [%s] are stored as complete. "
				"To continue, run again: %s%s\n",
				prog, r.already_complete + r.completed, r.trials, e->name, again,
				cluster_size() > 1 ? " (under mpirun or srun, on any number of "
						     "ranks, or without MPI)"
						   : "");
			status = EXIT_INTERRUPTED;
			break;
		}
		if (r.undecided)
			status = EXIT_FAILED;
		if (!ro->quiet)
			fputc('\n', stdout);
		if (report_print(s, e->name, r.experiment_id, REPORT_TABLE, stdout) < 0) {
			fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
			status = EXIT_FAILED;
		}
	}
	if (stop_requested && status == 0)
		status = EXIT_INTERRUPTED;
	return status;
}

/* run --plan: each experiment's projection, and their sum when there are several. */
static int plan_all(const struct experiment *const *to_run, int n, const struct run_opts *ro)
{
	struct run_options o = { .threads = (int)ro->threads, .quiet = 1 };
	double wall[MAX_PLAN_RANKS], sum[MAX_PLAN_RANKS] = { 0 };
	for (int i = 0; i < n; i++) {
		enum run_status rc = run_plan(to_run[i], &o, ro->ranks, ro->n_ranks, wall, stdout);
		if (rc != RUN_OK) {
			fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
			return rc == RUN_BAD_INPUT ? EXIT_USAGE : EXIT_FAILED;
		}
		for (int k = 0; k < ro->n_ranks; k++)
			sum[k] += wall[k];
		if (i + 1 < n)
			fputc('\n', stdout);
	}
	if (n > 1) {
		printf("\nall %d experiments, one after another:", n);
		for (int k = 0; k < ro->n_ranks; k++) {
			long t = (long)(sum[k] + 0.5);
			printf("%s %d rank%s %ld:%02ld:%02ld", k ? "," : "", ro->ranks[k],
			       ro->ranks[k] == 1 ? "" : "s", t / 3600, t / 60 % 60, t % 60);
		}
		putchar('\n');
	}
	return 0;
}

/* dimsearch run: load the experiments, run each into the store, print its table. */
static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "db", required_argument, NULL, O_DB },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "plan", no_argument, NULL, O_PLAN },
		{ "ranks", required_argument, NULL, O_RANKS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { .config = "experiments.ini",
			      .db = STORE_DEFAULT_PATH,
			      .threads = default_threads() };
	int r = options_exit(parse_options(argc, argv, "run", opts, run_option, &o, run_help));
	if (r >= 0)
		return r;
	omp_set_num_threads((int)o.threads);
	if (o.n_ranks > 0 && !o.plan) {
		usage_error("--ranks goes with --plan; to run on N ranks: mpirun -np N %s-mpi run",
			    prog);
		return EXIT_USAGE;
	}
	if (o.plan && o.n_ranks == 0) {
		static const int dflt[] = { 1, 2, 4, 8, 16, 32, 64 };
		for (size_t i = 0; i < sizeof(dflt) / sizeof(*dflt); i++)
			o.ranks[o.n_ranks++] = dflt[i];
	}
	if (o.n_selected == 0)
		o.selected[o.n_selected++] = "quick";
	const struct registry *strategies = dimsearch_strategies();
	if (!strategies) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_FAILED;
	}
	struct experiment_file f;
	if (experiments_load(&f, o.config, strategies)) {
		fprintf(stderr, "%s", f.errors ? f.errors : "");
		fprintf(stderr, "%s: %d problem%s in %s; nothing was run\n", prog, f.n_errors,
			f.n_errors == 1 ? "" : "s", o.config);
		experiments_free(&f);
		return EXIT_USAGE;
	}
	const struct experiment **to_run = malloc(sizeof(*to_run) * (size_t)(f.n_exp + 1));
	int n_to_run = to_run ? select_experiments(&f, &o, to_run, f.n_exp) : -1;
	if (n_to_run >= 0 && (o.plan || cluster_rank() > 0)) {
		/* a plan trains nothing; a worker rank runs what rank 0 hands out */
		struct run_options wo = { .threads = (int)o.threads, .quiet = 1,
					  .stop = &stop_requested };
		if (!o.plan)
			catch_signals();
		int status = o.plan ? (cluster_rank() > 0 ? 0 : plan_all(to_run, n_to_run, &o))
				    : run_worker(to_run, n_to_run, &wo);
		free(to_run);
		experiments_free(&f);
		return status;
	}
	struct store *s = n_to_run < 0 ? NULL : store_open(o.db, 1);
	if (n_to_run >= 0 && !s)
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
	int status = EXIT_USAGE;
	if (s) {
		omp_set_max_active_levels(2);
		catch_signals();
		status = run_all(s, to_run, n_to_run, &o);
		/* a group run in full: its data sets of known dimension side by side */
		for (int i = 0; i < o.n_selected && status == 0; i++)
			if (!experiments_find(&f, o.selected[i]) &&
			    (report_known_id(s, o.selected[i], stdout) < 0 ||
			     report_eb_sweep(s, o.selected[i], stdout) < 0)) {
				fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
				status = EXIT_FAILED;
			}
		store_close(s);
	}
	if (n_to_run >= 0 && cluster_size() > 1)
		run_release_workers(status);
	free(to_run);
	experiments_free(&f);
	return status;
}

/* ---- report ---- */

/* The help of report. */
static void report_help(FILE *out)
{
	fprintf(out,
		"usage: %s report [--db PATH] [--experiment NAME] [--format table|csv|json]\n"
		"\n"
		"Print the comparison of strategies from the database alone (the view\n"
		"v_comparison): chosen K, tuning and delivery FLOPs, the ratio to grid search,\n"
		"test MSE, probe accuracy and seconds, for the newest configuration of each\n"
		"experiment; with two or more data sets of known dimension, a table of every\n"
		"strategy's estimate on each, marked where |estimate - d| < 0.5.\n"
		"\n"
		"  --db PATH          results database (%s)\n"
		"  --experiment NAME  one experiment, or every one of a group: known-id (all)\n"
		"  --format F         table, csv, or json: one object per line (table)\n"
		"  -h, --help         this help\n",
		prog, STORE_DEFAULT_PATH);
}

struct report_opts {
	const char *db, *experiment;
	enum report_format format;
};

/* One option of report. */
static int report_option(void *ctx, int code, const char *arg)
{
	struct report_opts *o = ctx;
	switch (code) {
	case O_DB: o->db = arg; return 0;
	case O_EXPERIMENT: o->experiment = arg; return 0;
	case O_FORMAT:
		if (report_format_parse(arg, &o->format)) {
			usage_error("--format takes table, csv or json (got '%s')", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* dimsearch report: the comparison from the database alone. */
static int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report_opts o = { .db = STORE_DEFAULT_PATH, .format = REPORT_TABLE };
	int r = options_exit(
		parse_options(argc, argv, "report", opts, report_option, &o, report_help));
	if (r >= 0)
		return r;
	struct store *s = store_open(o.db, 0);
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	int rows = report_print(s, o.experiment, 0, o.format, stdout);
	if (rows > 0 && o.format == REPORT_TABLE &&
	    (report_known_id(s, o.experiment, stdout) < 0 ||
	     report_eb_sweep(s, o.experiment, stdout) < 0))
		rows = -1;
	const char *x = o.experiment;
	if (rows < 0)
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
	else if (rows == 0)
		fprintf(stderr, "%s: no decisions in %s%s%s yet (run 'dimsearch run%s%s')\n", prog,
			o.db, x ? " for experiment " : "", x ? x : "", x ? " --experiment " : "",
			x ? x : "");
	store_close(s);
	return rows < 0 ? EXIT_FAILED : rows == 0 ? EXIT_USAGE : 0;
}

/* ---- id ---- */

/* The estimators' names, "lpca, mle, ..., danco", for help and messages. */
static const char *id_names(void)
{
	static char names[256];
	if (!names[0])
		for (int e = 0; e < ID_ESTIMATORS; e++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 e ? ", " : "", id_estimator_name((enum id_estimator)e));
	return names;
}

/* The help of id. */
static void id_help(FILE *out)
{
	fprintf(out,
		"usage: %s id --dataset SPEC [--estimator NAME|all] [--k N] [--n N] [--set KEY=V]\n"
		"             [--seed S] [--threads T] [--json]\n"
		"       %s id --list\n"
		"\n"
		"Estimate the intrinsic dimension of a data set without training, with\n"
		"scikit-dimension's defaults: local PCA (Fukunaga-Olsen: k = %d neighbours,\n"
		"eigenvalues above %g of the largest; mean and median over points, and\n"
		"global), MLE (Levina-Bickel, k = %d, MacKay-Ghahramani aggregation), TwoNN\n"
		"(Facco et al.; the largest %g%% of ratios discarded), global PCA (components\n"
		"explaining %g of the variance), CorrInt (k1 = %d, k2 = %d), MOM (k = %d), TLE\n"
		"(k = %d), MADA (k = %d), ESS (k = %d), FisherS (conditional number %g) and DANCo\n"
		"(k = %d, calibrated on seeded balls of every dimension up to the ambient one).\n"
		"\n"
		"  --dataset SPEC   any dataset SPEC, e.g. M7_Roll:n=2500 or affine:d=5,D=50\n"
		"  --estimator E    %s, or all (all)\n"
		"  --k N            neighbours for lpca and mle (%d and %d)\n"
		"  --n N            use at most N points (all; Fashion-MNIST is 60000: use --n)\n"
		"  --set KEY=VALUE  an estimator's key of experiments.ini, e.g. lpca.fit=global,\n"
		"                   pca.variance=0.9, danco.D=20 (repeatable)\n"
		"  --seed S         synthetic draws, subsampling and DANCo's simulations (1)\n"
		"  --threads T      (%d, all cores)\n"
		"  --json           one JSON object per estimator and line\n"
		"  --list           the benchmark manifolds with their dimensions\n",
		prog, prog, LPCA_DEFAULT_K, LPCA_DEFAULT_ALPHA, MLE_DEFAULT_K,
		100 * TWONN_DEFAULT_DISCARD, PCA_DEFAULT_VARIANCE, CORRINT_DEFAULT_K1,
		CORRINT_DEFAULT_K2, MOM_DEFAULT_K, TLE_DEFAULT_K, MADA_DEFAULT_K, ESS_DEFAULT_K,
		(double)FISHERS_DEFAULT_CONDITIONAL_NUMBER, DANCO_DEFAULT_K, id_names(),
		LPCA_DEFAULT_K, MLE_DEFAULT_K, default_threads());
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

struct id_opts {
	const char *spec;
	int use[ID_ESTIMATORS]; /* the estimators to run */
	struct id_params params;
	long n, seed, threads;
	int json, list;
};

/* One option of id. */
static int id_option(void *ctx, int code, const char *arg)
{
	struct id_opts *o = ctx;
	long k;
	enum id_estimator e;
	char why[512];
	switch (code) {
	case O_DATASET: o->spec = arg; return 0;
	case O_ESTIMATOR:
		if (!strcmp(arg, "all")) {
			for (int i = 0; i < ID_ESTIMATORS; i++)
				o->use[i] = 1;
			return 0;
		}
		if (id_estimator_parse(arg, &e)) {
			usage_error("--estimator takes %s or all (got '%s')", id_names(), arg);
			return -1;
		}
		memset(o->use, 0, sizeof(o->use));
		o->use[e] = 1;
		return 0;
	case O_K:
		if (parse_long("--k", arg, 2, 100000, &k))
			return -1;
		o->params.lpca_k = o->params.mle_k = (int)k;
		return 0;
	case O_N: return parse_long("--n", arg, 3, INT32_MAX, &o->n);
	case O_SEED: return parse_long("--seed", arg, 0, INT64_MAX, &o->seed);
	case O_THREADS: return parse_long("--threads", arg, 1, 1024, &o->threads);
	case O_JSON: o->json = 1; return 0;
	case O_LIST: o->list = 1; return 0;
	case O_SET:
		if (id_settings_set(&o->params, arg, why, sizeof(why))) {
			usage_error("--set %s: %s", arg, why);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* The one neighbour count of the estimators that have one (CorrInt has two), else 0. */
static int id_k(enum id_estimator e, const struct id_params *p)
{
	if (e == ID_DANCO)
		return p->danco_k;
	if (e == ID_TWONN || e == ID_CORRINT)
		return 0;
	return id_neighbours(e, p);
}

/* One estimator's line: text, or JSON with --json. */
static void id_print(const struct id_opts *o, const struct dataset *d, enum id_estimator e,
		     double estimate, const struct lpca_result *lp, uint64_t flops, double secs)
{
	const struct split *s = &d->train;
	const char *name = id_estimator_name(e);
	int k = id_k(e, &o->params);
	if (o->json) {
		printf("{\"dataset\":");
		report_json_string(stdout, o->spec);
		printf(",\"estimator\":\"%s\",", name);
		json_number_out("estimate", estimate, ",");
		if (e == ID_LPCA) {
			json_number_out("median", lp->median, ",");
			json_number_out("global", lp->global, ",");
		}
		if (k)
			printf("\"k\":%d,", k);
		if (d->true_dim > 0)
			json_number_out("true_dimension", d->true_dim, ",");
		printf("\"n\":%zu,\"ambient_dimension\":%d,\"flops\":%llu,", s->n, s->dim,
		       (unsigned long long)flops);
		json_number_out("seconds", secs, "}\n");
		return;
	}
	char note[96], setting[64];
	id_setting_text(e, &o->params, setting, sizeof(setting));
	if (e == ID_LPCA)
		snprintf(note, sizeof(note), "%s %g, %s %g, k = %d",
			 o->params.lpca_fit == LPCA_GLOBAL ? "mean" : "median",
			 o->params.lpca_fit == LPCA_GLOBAL ? lp->mean : lp->median,
			 o->params.lpca_fit == LPCA_GLOBAL ? "median" : "global",
			 o->params.lpca_fit == LPCA_GLOBAL ? lp->median : lp->global,
			 o->params.lpca_k);
	else if (e == ID_TWONN)
		snprintf(note, sizeof(note), "largest %g%% of ratios dropped",
			 100 * o->params.twonn_discard);
	else
		snprintf(note, sizeof(note), "%s", setting);
	printf("  %-7s %7.3f   %-34s %10.3g FLOPs %7.2f s\n", name, estimate, note, (double)flops,
	       secs);
}

/* The neighbours the widest of the chosen estimators reads (0: none reads any). */
static int id_most_neighbours(const struct id_opts *o)
{
	int need = 0;
	for (int e = 0; e < ID_ESTIMATORS; e++)
		if (o->use[e] && id_neighbours((enum id_estimator)e, &o->params) > need)
			need = id_neighbours((enum id_estimator)e, &o->params);
	return need;
}

/* One search for the need neighbours of the widest estimator chosen, then each estimator on
 * it, each that reads neighbours charged the search: the exit status. */
static int id_estimate_all(const struct id_opts *o, const struct dataset *d, int need)
{
	const struct split *s = &d->train;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t knn_flops = 0;
	struct knn nn = { 0 };
	if (need > 0 && knn_search(s->x, s->n, s->dim, need, (int)o->threads, &nn, &knn_flops)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_FAILED;
	}
	double knn_seconds = seconds_since(&t0);
	struct id_params params = o->params;
	params.seed = (uint64_t)o->seed;
	int status = 0;
	for (int e = 0; e < ID_ESTIMATORS; e++) {
		if (!o->use[e])
			continue;
		int reads = id_neighbours((enum id_estimator)e, &params) > 0;
		uint64_t flops = reads ? knn_flops : 0;
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		struct lpca_result lp;
		double estimate = id_estimate((enum id_estimator)e, &params, s->x, s->n, s->dim,
					      reads ? &nn : NULL, (int)o->threads, &lp, &flops);
		if (isnan(estimate)) {
			const char *name = id_estimator_name((enum id_estimator)e);
			/* most messages begin with the estimator's name already */
			if (strncmp(ds_errmsg(), name, strlen(name)))
				fprintf(stderr, "%s: %s: %s\n", prog, name, ds_errmsg());
			else
				fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
			status = EXIT_FAILED;
			continue;
		}
		id_print(o, d, (enum id_estimator)e, estimate, &lp, flops,
			 (reads ? knn_seconds : 0) + seconds_since(&t1));
	}
	knn_free(&nn);
	return status;
}

/* dimsearch id: intrinsic-dimension estimates of a data set, no training. */
static int cmd_id(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "estimator", required_argument, NULL, O_ESTIMATOR },
		{ "k", required_argument, NULL, O_K },
		{ "n", required_argument, NULL, O_N },
		{ "seed", required_argument, NULL, O_SEED },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "json", no_argument, NULL, O_JSON },
		{ "list", no_argument, NULL, O_LIST },
		{ "set", required_argument, NULL, O_SET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct id_opts o = { .seed = 1, .threads = default_threads() };
	for (int i = 0; i < ID_ESTIMATORS; i++)
		o.use[i] = 1;
	id_params_defaults(&o.params);
	int r = options_exit(parse_options(argc, argv, "id", opts, id_option, &o, id_help));
	if (r >= 0)
		return r;
	omp_set_num_threads((int)o.threads);
	if (o.list) {
		id_list();
		return 0;
	}
	if (!o.spec) {
		usage_error("id needs --dataset SPEC (see '%s id --help')", prog);
		return EXIT_USAGE;
	}
	/* every point in one pool: no validation or test split */
	struct data_opts dopt = {
		.n_train = o.n, .n_val = 0, .n_test = 0, .seed = (uint64_t)o.seed
	};
	struct dataset d;
	if (dataset_load(&d, o.spec, &dopt)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	int need = id_most_neighbours(&o);
	int status;
	if ((double)d.train.n * (double)d.train.n * d.train.dim > KNN_MAX_WORK) {
		fprintf(stderr, "%s: %s has %zu points in R^%d: the neighbour search would take "
				"hours; use --n to estimate on a sample (e.g. --n 5000)\n",
			prog, o.spec, d.train.n, d.train.dim);
		status = EXIT_USAGE;
	} else if ((size_t)need >= d.train.n) {
		fprintf(stderr,
			"%s: %s has %zu points: too few for %d neighbours (use a smaller "
			"--k or more points)\n",
			prog, o.spec, d.train.n, need);
		status = EXIT_USAGE;
	} else {
		if (!o.json) {
			char truth[64] = "";
			if (d.true_dim > 0)
				snprintf(truth, sizeof(truth), ", true dimension %g", d.true_dim);
			printf("%s: %zu points in R^%d%s\n", o.spec, d.train.n, d.train.dim, truth);
		}
		status = id_estimate_all(&o, &d, need);
	}
	dataset_free(&d);
	return status;
}

/* ---- plot ---- */

/* The help of plot. */
static void plot_help(FILE *out)
{
	fprintf(out,
		"usage: %s plot [--db PATH] [--experiment NAME] [--out DIR]\n"
		"\n"
		"Draw the figures of experiments from the database alone, as PNG and SVG:\n"
		"tuning FLOPs per strategy, the grid curve with each strategy's choice, active units\n"
		"per epoch, SOSAE's activity profile, error against FLOPs, and (over the experiments\n"
		"of a group) chosen K against the true dimension. Each experiment's figures go to\n"
		"DIR/NAME/, its group's to DIR/GROUP/, the data behind each to a data/ folder beside\n"
		"them, which the gnuplot scripts in plots/ draw again by hand.\n"
		"\n"
		"  --db PATH          results database (%s)\n"
		"  --experiment NAME  one experiment, or every one of a group (all with decisions,\n"
		"                     as in report)\n"
		"  --out DIR          where the folders of figures go (%s)\n"
		"  -h, --help         this help\n",
		prog, STORE_DEFAULT_PATH, PLOT_DEFAULT_OUT);
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

struct plot_opts {
	const char *db, *experiment, *out;
};

/* One option of plot. */
static int plot_option(void *ctx, int code, const char *arg)
{
	struct plot_opts *o = ctx;
	switch (code) {
	case O_DB: o->db = arg; return 0;
	case O_EXPERIMENT: o->experiment = arg; return 0;
	case O_OUT: o->out = arg; return 0;
	}
	return -1;
}

/* The experiments to draw: names, their count and room. */
struct plot_names {
	char (*name)[128];
	int n, cap;
};

static int plot_name(void *ctx, int ncol, char **names, char **values)
{
	(void)names;
	struct plot_names *p = ctx;
	if (ncol < 1 || !values[0] || strlen(values[0]) >= sizeof(p->name[0]))
		return 0;
	if (p->n == p->cap) {
		int cap = p->cap ? 2 * p->cap : 16;
		void *grown = realloc(p->name, sizeof(*p->name) * (size_t)cap);
		if (!grown)
			return 1;
		p->name = grown;
		p->cap = cap;
	}
	snprintf(p->name[p->n++], sizeof(p->name[0]), "%s", values[0]);
	return 0;
}

/* The latest configuration of every experiment with decisions (what report shows), or of
 * the one named, or of every one of a group: names in order, their count or -1. */
static int plot_select(struct store *s, const char *experiment, struct plot_names *p)
{
	static const char *const every =
		"SELECT l.name FROM v_latest l WHERE EXISTS (SELECT 1 FROM decision d WHERE "
		"d.experiment_id = l.experiment_id) ORDER BY l.name";
	static const char *const named =
		"SELECT l.name FROM v_latest l WHERE l.name = ?1 OR (substr(l.name, 1, "
		"length(?1) + 1) = ?1 || '.' AND EXISTS (SELECT 1 FROM decision d WHERE "
		"d.experiment_id = l.experiment_id)) ORDER BY l.name <> ?1, l.name";
	const char *args[] = { experiment, NULL };
	if (store_query(s, experiment ? named : every, experiment ? args : NULL, plot_name, p))
		return -1;
	return p->n;
}

/* dimsearch plot: the figures of experiments from the database alone. */
static int cmd_plot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "out", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct plot_opts o = { .db = STORE_DEFAULT_PATH, .out = PLOT_DEFAULT_OUT };
	int r = options_exit(parse_options(argc, argv, "plot", opts, plot_option, &o, plot_help));
	if (r >= 0)
		return r;
	struct stat st;
	if (!*o.out || strcspn(o.out, "\n\r\t\x1b") != strlen(o.out)) {
		usage_error("--out takes a folder name without control characters (got '%s')", o.out);
		return EXIT_USAGE;
	}
	if (stat(o.out, &st) == 0 && !S_ISDIR(st.st_mode)) {
		usage_error("--out %s is a file, not a folder: name a folder for the figures", o.out);
		return EXIT_USAGE;
	}
	char gnuplot[4096], scripts[2100];
	if (plot_find_gnuplot(gnuplot, sizeof(gnuplot))) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	scripts_dir(scripts, sizeof(scripts));
	struct store *s = store_open(o.db, 0);
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	struct plot_names names = { 0 };
	int n = plot_select(s, o.experiment, &names);
	if (n <= 0) {
		const char *x = o.experiment;
		if (n < 0)
			fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		else
			fprintf(stderr, "%s: no %s%s%s in %s (run 'dimsearch run%s%s')\n", prog,
				x ? "experiment '" : "decisions", x ? x : "", x ? "'" : "", o.db,
				x ? " --experiment " : "", x ? x : "");
		free(names.name);
		store_close(s);
		return n < 0 ? EXIT_FAILED : EXIT_USAGE;
	}
	catch_signals();
	int status = 0, total = 0;
	char last_group[128] = "";
	for (int i = 0; i < n && !status; i++) {
		/* a group's own figures once, with its first experiment drawn */
		char group[128] = "";
		const char *dot = strchr(names.name[i], '.');
		if (dot)
			snprintf(group, sizeof(group), "%.*s", (int)(dot - names.name[i]),
				 names.name[i]);
		int group_figures = group[0] && strcmp(group, last_group);
		if (group[0])
			snprintf(last_group, sizeof(last_group), "%s", group);
		int made = plot_render(s, names.name[i], scripts, o.out, gnuplot, group_figures,
				       &stop_requested);
		if (made < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, names.name[i], ds_errmsg());
			status = stop_requested ? EXIT_INTERRUPTED : EXIT_FAILED;
			break;
		}
		total += made;
		printf("%d figures of %s in %s/%s (PNG and SVG; data in %s/%s/data)%s%s%s%s\n",
		       made, names.name[i], o.out, names.name[i], o.out, names.name[i],
		       group_figures ? ", its group's in " : "", group_figures ? o.out : "",
		       group_figures ? "/" : "", group_figures ? group : "");
	}
	if (!status && n > 1)
		printf("%d figures of %d experiments in %s\n", total, n, o.out);
	free(names.name);
	store_close(s);
	return status;
}

/* ---- export and encode: the delivered models ---- */

/* The help of export. */
static void export_help(FILE *out)
{
	fprintf(out,
		"usage: %s export --experiment NAME --strategy S [--seed N] --out FILE.npz\n"
		"                 [--db PATH]\n"
		"\n"
		"Write the model strategy S delivered for one seed of the current configuration\n"
		"of experiment NAME, as 'run' kept it beside the database (PATH%s): an .npz\n"
		"that numpy.load reads, one float32 array per layer (W0, b0, W1, ...), the data's\n"
		"scaling (scale_shift, scale_spread) and metadata.json naming the architecture,\n"
		"each layer's activation and how to run it.\n"
		"\n"
		"  --db PATH          results database (%s)\n"
		"  --experiment NAME  the experiment\n"
		"  --strategy S       a strategy's row of the report: grid, sosae, sosae(a=0.1,...)\n"
		"  --seed N           the seed (the first seed listed)\n"
		"  --out FILE         the .npz to write\n"
		"  -h, --help         this help\n",
		prog, MODELS_SUFFIX, STORE_DEFAULT_PATH);
}

struct export_opts {
	const char *db, *experiment, *strategy, *out;
	long seed;
};

/* One option of export. */
static int export_option(void *ctx, int code, const char *arg)
{
	struct export_opts *o = ctx;
	switch (code) {
	case O_DB: o->db = arg; return 0;
	case O_EXPERIMENT: o->experiment = arg; return 0;
	case O_STRATEGY: o->strategy = arg; return 0;
	case O_OUT: o->out = arg; return 0;
	case O_SEED: return parse_long("--seed", arg, 0, INT64_MAX, &o->seed);
	}
	return -1;
}

/* Copy file from to file to: 0, or -1 with ds_errmsg(). */
static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	if (!in)
		return ds_fail("cannot open %s: %s", from, strerror(errno));
	FILE *out = fopen(to, "wb");
	if (!out) {
		fclose(in);
		return ds_fail("cannot create %s: %s", to, strerror(errno));
	}
	char buf[1 << 16];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = ds_fail("cannot write %s: %s", to, strerror(errno));
	if (!rc && ferror(in))
		rc = ds_fail("cannot read %s: %s", from, strerror(errno));
	fclose(in);
	if (fclose(out) && !rc)
		rc = ds_fail("cannot write %s: %s", to, strerror(errno));
	return rc;
}

/* dimsearch export: a delivered model, as run kept it, to an .npz of the user's. */
static int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "experiment", required_argument, NULL, O_EXPERIMENT },
		{ "strategy", required_argument, NULL, O_STRATEGY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "out", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_opts o = { .db = STORE_DEFAULT_PATH, .seed = -1 };
	int r = options_exit(parse_options(argc, argv, "export", opts, export_option, &o,
					   export_help));
	if (r >= 0)
		return r;
	const char *missing = !o.experiment ? "--experiment NAME"
			      : !o.strategy ? "--strategy S"
			      : !o.out	    ? "--out FILE.npz"
					    : NULL;
	if (missing) {
		usage_error("export needs %s (see '%s export --help')", missing, prog);
		return EXIT_USAGE;
	}
	struct store *s = store_open(o.db, 0);
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	char hash[64];
	const char *const name[] = { o.experiment, NULL };
	store_scalar(s,
		     "SELECT e.hash FROM experiment e JOIN v_latest l ON l.experiment_id = e.id "
		     "WHERE e.name = ?",
		     name, hash, sizeof(hash), "");
	store_close(s);
	if (!hash[0]) {
		fprintf(stderr, "%s: no experiment '%s' in %s (run 'dimsearch run --experiment %s')\n",
			prog, o.experiment, o.db, o.experiment);
		return EXIT_USAGE;
	}
	char root[4096], dir[4200], path[8192];
	long seed;
	snprintf(root, sizeof(root), "%s%s", o.db, MODELS_SUFFIX);
	snprintf(dir, sizeof(dir), "%s/%s", root, hash);
	if (models_find(dir, o.strategy, o.seed, path, sizeof(path), &seed)) {
		fprintf(stderr, "%s: [%s] %s\n", prog, o.experiment, ds_errmsg());
		return EXIT_USAGE;
	}
	if (copy_file(path, o.out)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_FAILED;
	}
	printf("%s: the model %s delivered for [%s] seed %ld\n", o.out, o.strategy, o.experiment,
	       seed);
	return 0;
}

/* The help of encode. */
static void encode_help(FILE *out)
{
	fprintf(out,
		"usage: %s encode --model FILE --dataset SPEC --out FILE.csv [--threads T]\n"
		"\n"
		"Encode every example of a dataset with a model 'export' wrote: the rows in the\n"
		"order read (CSV, IDX; a generator's draws in order; Fashion-MNIST's training file),\n"
		"scaled as the model's training data was, one line of K codes each under a header\n"
		"z1,...,zK (a VAE's mean mu).\n"
		"\n"
		"  --model FILE    an .npz of 'dimsearch export'\n"
		"  --dataset SPEC  as for train (see 'dimsearch train --help')\n"
		"  --out FILE      the CSV to write\n"
		"  --threads T     cores to use (%d)\n"
		"  -h, --help      this help\n",
		prog, default_threads());
}

struct encode_opts {
	const char *model, *dataset, *out;
	long threads;
};

/* One option of encode. */
static int encode_option(void *ctx, int code, const char *arg)
{
	struct encode_opts *o = ctx;
	switch (code) {
	case O_MODEL: o->model = arg; return 0;
	case O_DATASET: o->dataset = arg; return 0;
	case O_OUT: o->out = arg; return 0;
	case O_THREADS: return parse_long("--threads", arg, 1, 1024, &o->threads);
	}
	return -1;
}

/* Codes (n, K) as CSV into path: 0, or -1 with ds_errmsg(). */
static int write_codes(const char *path, const float *codes, size_t n, int K)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return ds_fail("cannot create %s: %s", path, strerror(errno));
	for (int k = 0; k < K; k++)
		fprintf(f, "%sz%d", k ? "," : "", k + 1);
	fputc('\n', f);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < K; k++)
			fprintf(f, "%.9g%c", codes[i * (size_t)K + (size_t)k], k + 1 < K ? ',' : '\n');
	int failed = ferror(f);
	if (fclose(f) || failed)
		return ds_fail("cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* dimsearch encode: a model's codes of a dataset, as CSV. */
static int cmd_encode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, O_MODEL },
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "out", required_argument, NULL, O_OUT },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct encode_opts o = { .threads = default_threads() };
	int r = options_exit(parse_options(argc, argv, "encode", opts, encode_option, &o,
					   encode_help));
	if (r >= 0)
		return r;
	const char *missing = !o.model	   ? "--model FILE"
			      : !o.dataset ? "--dataset SPEC"
			      : !o.out	   ? "--out FILE.csv"
					   : NULL;
	if (missing) {
		usage_error("encode needs %s (see '%s encode --help')", missing, prog);
		return EXIT_USAGE;
	}
	omp_set_num_threads((int)o.threads);
	struct model_scaling sc;
	struct ae *m = ae_load_npz(o.model, &sc, NULL, 0);
	if (!m) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		return EXIT_USAGE;
	}
	struct data_opts dopt;
	data_opts_defaults(&dopt);
	dopt.n_val = 0;
	dopt.n_test = 0;
	dopt.keep_order = 1;
	struct dataset d;
	int status = 0;
	float *codes = NULL;
	if (dataset_load(&d, o.dataset, &dopt)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		ae_delete(m);
		model_scaling_free(&sc);
		return EXIT_USAGE;
	}
	if (d.dim != m->arch.input_dim) {
		fprintf(stderr, "%s: %s has %d features but the model %s reads %d: encode the data "
				"it was trained on (or data of the same layout)\n",
			prog, o.dataset, d.dim, o.model, m->arch.input_dim);
		status = EXIT_USAGE;
		goto done;
	}
	struct flops f = { 0 };
	codes = malloc(sizeof(float) * (d.train.n ? d.train.n : 1) * (size_t)m->arch.latent);
	if (!codes || dataset_apply_scale(&d, sc.scale, sc.shift, sc.spread) ||
	    ae_encode(m, &d.train, (int)o.threads, codes, NULL, &f) ||
	    write_codes(o.out, codes, d.train.n, m->arch.latent)) {
		fprintf(stderr, "%s: %s\n", prog, codes ? ds_errmsg() : "out of memory for the codes");
		status = EXIT_FAILED;
		goto done;
	}
	printf("%s: %zu codes of %d units from %s\n", o.out, d.train.n, m->arch.latent, o.model);
done:
	free(codes);
	dataset_free(&d);
	ae_delete(m);
	model_scaling_free(&sc);
	return status;
}

/* ---- dispatch ---- */

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "run", cmd_run, "run experiments from experiments.ini into the results database" },
	{ "report", cmd_report, "print the comparison of strategies from the database" },
	{ "train", cmd_train, "train one autoencoder; report MSE, images/s and FLOPs" },
	{ "id", cmd_id, "estimate a data set's intrinsic dimension (11 estimators, no training)" },
	{ "plot", cmd_plot, "draw an experiment's figures with gnuplot (PNG and SVG)" },
	{ "export", cmd_export, "write a strategy's delivered model as an .npz for NumPy" },
	{ "encode", cmd_encode, "encode a dataset with an exported model, codes as CSV" },
};

/* The help of dimsearch. */
static void main_help(FILE *out)
{
	fprintf(out,
		"usage: %s COMMAND [options]\n"
		"\n"
		"How wide should an autoencoder's latent layer be, and what does finding out cost?\n"
		"\n"
		"commands:\n",
		prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"  --version  version and the BLAS kernel in use\n"
		"  --help     this help; '%s COMMAND --help' for a command's options\n",
		prog);
}

static void print_version(void)
{
	char kernel[256];
	blas_describe(kernel, sizeof(kernel));
	printf("dimsearch %s\n", DIMSEARCH_VERSION);
	printf("BLAS: %s\n", blas_config());
	printf("BLAS kernel: %s\n", kernel);
	printf("threads: %d (OpenMP; one BLAS thread each)\n", default_threads());
	if (cluster_built())
		printf("MPI: built in; rank %d of %d\n", cluster_rank(), cluster_size());
	else
		printf("MPI: not in this build ('make mpi' builds %s-mpi)\n", prog);
}

/* The command line, run: its exit status. */
static int run_command_line(int argc, char **argv)
{
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	usage_error("unknown command '%s' (see '%s --help')", cmd, prog);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	command_argc = argc;
	command_argv = argv;
	blas_select_kernel(argv);
	blas_single_thread();
	if (cluster_init(&argc, &argv)) {
		fprintf(stderr, "%s: %s\n", prog, ds_errmsg());
		cluster_finalize(EXIT_FAILED);
		return EXIT_FAILED;
	}
	if (cluster_rank() > 0) {
		/* a worker says nothing: its trials' results and failures reach rank 0, which
		 * prints them, and it runs no other command */
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr) ||
		    argc < 2 || strcmp(argv[1], "run")) {
			cluster_finalize(0);
			return 0;
		}
	}
	int status = run_command_line(argc, argv);
	cluster_finalize(status);
	return status;
}
