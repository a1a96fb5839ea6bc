/* QVK_DRM=0 builds put this folder first on the include path. */
#error "qvk: a QVK_DRM=0 build must not include libdrm's amdgpu.h"
