/* QVK_BLAS=0 builds put this folder first on the include path. */
#error "qvk: a QVK_BLAS=0 build must not include cblas.h (BLAS/LAPACKE)"
