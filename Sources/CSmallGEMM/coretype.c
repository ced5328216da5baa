#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

// OpenBLAS (built with DYNAMIC_ARCH) takes OPENBLAS_CORETYPE at its word: a kernel for instructions this CPU lacks
// (SkylakeX's AVX-512 on an AVX2 machine, say a cluster-wide setting on an older node) dies with SIGILL at the first
// product, in the toolkit and in its tests alike. Before anything runs, such a value is dropped with a warning and the
// process starts again from the same arguments, so that OpenBLAS chooses a kernel this CPU runs, as when the variable
// is unset. A runnable value, or a name not listed here, is left as it is.

// The instruction set a core type's kernels use, or NULL for names not checked.
static const char *required_feature(const char *core) {
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2[] = {"haswell", "zen"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++) if (strcasecmp(core, avx512[i]) == 0) return "avx512f";
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++) if (strcasecmp(core, avx2[i]) == 0) return "avx2";
    if (strcasecmp(core, "sandybridge") == 0) return "avx";
    return NULL;
}

static int cpu_has(const char *feature) {
    __builtin_cpu_init();  // required before __builtin_cpu_supports in a constructor
    if (strcmp(feature, "avx512f") == 0) return __builtin_cpu_supports("avx512f");
    if (strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return __builtin_cpu_supports("avx");
}

// Runs before libxsmm's initialisation (small_gemm.c) and before any product; glibc passes main's arguments.
__attribute__((constructor(101))) static void dsn_runnable_coretype(int argc, char **argv) {
    (void)argc;
    const char *core = getenv("OPENBLAS_CORETYPE");
    const char *feature = core == NULL ? NULL : required_feature(core);
    if (feature == NULL || cpu_has(feature)) return;
    fprintf(stderr, "warning: OPENBLAS_CORETYPE=%s selects kernels that need %s, which this CPU lacks; ignored "
                    "(OpenBLAS chooses its kernel for this CPU, as when the variable is unset)\n", core, feature);
    unsetenv("OPENBLAS_CORETYPE");
    execv("/proc/self/exe", argv);
    fprintf(stderr, "error: could not restart without OPENBLAS_CORETYPE; unset it and run again\n");
    _exit(70);
}
