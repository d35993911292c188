/* model_io.h: a trained autoencoder and the scaling of its data as one .npz file.
 *
 * Entries: W0 ... W{L-1} (out, in) and b0 ... (out) of every dense layer, in forward order;
 * with batch norm on layer l, gamma{l}, beta{l}, running_mean{l} and running_var{l}; the
 * code's latent_mask (K); scale_shift and scale_spread (D) when the data was scaled;
 * metadata.json (the architecture, each layer's activation, the scaling and where the model
 * came from); and model.bin, dimsearch's own record of the same parameters, which it reads
 * back bit for bit (magic "dsmodel1"). */
#ifndef DS_MODEL_IO_H
#define DS_MODEL_IO_H

#include <stddef.h>

#include "data.h"
#include "model.h"

/* The data scaling a model was trained on: x' = (x - shift) / spread per feature. */
struct model_scaling {
	enum data_scale scale;
	int dim;                 /* features, the model's input width */
	float *shift, *spread;   /* (dim), NULL for SCALE_NONE */
};

/* Write m, trained on data scaled by s (NULL or SCALE_NONE: as read), to path. about is
 * flat JSON fields ("\"experiment\":\"x\",\"seed\":1", no braces; NULL for none) naming
 * where the model came from, copied into metadata.json. 0, or -1 with ds_errmsg(). */
int ae_save_npz(const struct ae *m, const struct model_scaling *s, const char *about,
		const char *path);

/* Read a file ae_save_npz wrote: the model (NULL with ds_errmsg() naming the file), its
 * scaling into *s (shift and spread malloc'd; free with model_scaling_free), and its
 * metadata.json into meta (size bytes; NULL for none). */
struct ae *ae_load_npz(const char *path, struct model_scaling *s, char *meta, size_t size);
void model_scaling_free(struct model_scaling *s);

#endif
