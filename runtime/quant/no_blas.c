/* SPDX-License-Identifier: MIT */
/*
 * AWQ and GPTQ need OpenBLAS/LAPACKE (runtime/quant/awq*.c, gptq*.c). A
 * QVK_BLAS=0 build leaves those files out; these entry points then say so
 * instead of failing to link.
 */
#include "quant/quant_internal.h"

#if QVK_BLAS
int qvk_quant_has_blas(void)
{
	return 1;
}
#else
int qvk_quant_has_blas(void)
{
	return 0;
}

qvk_status qvk_awq_search(struct qvk_ctx *ctx, const char *name,
			  const float *x, uint32_t t, const float *w,
			  uint32_t n, uint32_t k,
			  const struct qvk_awq_params *params, float *s,
			  float *alpha_out)
{
	(void)x, (void)t, (void)w, (void)n, (void)k, (void)params, (void)s;
	(void)alpha_out;
	return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
			 "%s: AWQ needs BLAS; this libqvk was built with "
			 "QVK_BLAS=0", name ? name : "awq");
}

qvk_status qvk_awq_quantize(struct qvk_ctx *ctx, const char *name,
			    const float *x, uint32_t t, const float *w,
			    uint32_t n, uint32_t k, const float *s,
			    const struct qvk_awq_params *params,
			    struct qvk_qtensor **out)
{
	(void)x, (void)t, (void)w, (void)n, (void)k, (void)s, (void)params;
	if (out)
		*out = NULL;
	return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
			 "%s: AWQ needs BLAS; this libqvk was built with "
			 "QVK_BLAS=0", name ? name : "awq");
}

qvk_status qvk_gptq_quantize(struct qvk_ctx *ctx, const char *name,
			     const float *x, uint32_t t, const float *w,
			     uint32_t n, uint32_t k,
			     const struct qvk_gptq_params *params,
			     struct qvk_qtensor **out)
{
	(void)x, (void)t, (void)w, (void)n, (void)k, (void)params;
	if (out)
		*out = NULL;
	return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
			 "%s: GPTQ needs BLAS; this libqvk was built with "
			 "QVK_BLAS=0", name ? name : "gptq");
}

qvk_status qvk_gptq_hessian_add(struct qvk_ctx *ctx, const char *name,
				const float *x, uint32_t t, uint32_t k,
				float *xtx)
{
	(void)x, (void)t, (void)k, (void)xtx;
	return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
			 "%s: GPTQ needs BLAS; this libqvk was built with "
			 "QVK_BLAS=0", name ? name : "gptq");
}

qvk_status qvk_gptq_quantize_hessian(struct qvk_ctx *ctx, const char *name,
				     const float *xtx, uint64_t tokens,
				     const float *w, uint32_t n, uint32_t k,
				     const struct qvk_gptq_params *params,
				     struct qvk_qtensor **out)
{
	(void)xtx, (void)tokens, (void)w, (void)n, (void)k, (void)params;
	if (out)
		*out = NULL;
	return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
			 "%s: GPTQ needs BLAS; this libqvk was built with "
			 "QVK_BLAS=0", name ? name : "gptq");
}

qvk_status qvk_gptq_qtensor_consume(struct qvk_ctx *ctx, const char *name,
				    const float *xtx, uint64_t tokens, float *w,
				    uint32_t n, uint32_t k,
				    const struct qvk_gptq_params *params,
				    struct qvk_qtensor **out)
{
	return qvk_gptq_quantize_hessian(ctx, name, xtx, tokens, w, n, k,
					 params, out);
}

qvk_status qvk_gptq_kq_consume(struct qvk_ctx *ctx, const char *name,
			       const float *xtx, uint64_t tokens, float *w,
			       uint32_t n, uint32_t k, uint32_t type,
			       const struct qvk_gptq_params *params,
			       void *blocks, size_t capacity_bytes)
{
	(void)xtx, (void)tokens, (void)w, (void)n, (void)k, (void)type;
	(void)params, (void)blocks, (void)capacity_bytes;
	return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
			 "%s: GPTQ needs BLAS; this libqvk was built with "
			 "QVK_BLAS=0", name ? name : "gptq");
}
#endif
