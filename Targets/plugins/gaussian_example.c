/* Example dsampler plug-in: an unnormalised isotropic Gaussian R(x) = exp(-|x - m|^2 / (2 s^2)) in d = 2,
 * with m = (1, -2) and s^2 = 2, so log Z = log(2 pi s^2) = log(4 pi).
 * Build: cc -O2 -shared -fPIC -o gaussian_example.so Targets/plugins/gaussian_example.c -lm
 * Use:   dsampler train target=plugin:./gaussian_example.so objective=tb iterations=2000 */
#include <math.h>
#include <stdint.h>

#define DIM 2
static const double mean[DIM] = {1.0, -2.0};
static const double var = 2.0;

int32_t dsampler_dim(void) { return DIM; }

double dsampler_log_z(void) { return log(2.0 * M_PI * var); }

int32_t dsampler_log_density(int64_t n, const double *x, double *log_p, double *grad) {
    for (int64_t r = 0; r < n; r++) {
        double s = 0.0;
        for (int k = 0; k < DIM; k++) {
            double diff = x[r * DIM + k] - mean[k];
            s += diff * diff;
            if (grad) grad[r * DIM + k] = -diff / var;
        }
        log_p[r] = -0.5 * s / var;
    }
    return 0;
}
