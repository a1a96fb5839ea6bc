/* SPDX-License-Identifier: MIT */
/*
 * C = A·Bᵀ (+ beta·C) in float for the whole-model quantizer's batched
 * calibration pass and searches: OpenBLAS's sgemm where the build has
 * BLAS, else a cache-blocked loop (QVK_BLAS=0: small models only).
 */
#include <string.h>

#include "quant/quant_internal.h"

#if QVK_BLAS
#include <cblas.h>
#endif

void qvk_gemm_nt(const float *a, const float *b, float *c, uint32_t m,
		 uint32_t n, uint32_t k, float beta)
{
#if QVK_BLAS
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n,
		    (int)k, 1.0f, a, (int)k, b, (int)k, beta, c, (int)n);
#else
	enum { TILE = 64 };

	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++)
			c[(size_t)i * n + j] = beta != 0.0f ?
					       beta * c[(size_t)i * n + j] : 0.0f;
	for (uint32_t i0 = 0; i0 < m; i0 += TILE)
		for (uint32_t j0 = 0; j0 < n; j0 += TILE)
			for (uint32_t i = i0; i < QVK_MIN(i0 + TILE, m); i++) {
				const float *ar = a + (size_t)i * k;

				for (uint32_t j = j0; j < QVK_MIN(j0 + TILE, n);
				     j++) {
					const float *br = b + (size_t)j * k;
					float acc[8] = { 0 }, s = 0.0f;
					uint32_t l = 0;

					for (; l + 8 <= k; l += 8)
						for (uint32_t v = 0; v < 8; v++)
							acc[v] += ar[l + v] * br[l + v];
					for (; l < k; l++)
						s += ar[l] * br[l];
					for (uint32_t v = 0; v < 8; v++)
						s += acc[v];
					c[(size_t)i * n + j] += s;
				}
			}
#endif
}
