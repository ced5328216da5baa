// An energy written in Python, called through CPython's embedding API. The interpreter starts on first use and
// releases its GIL; every call takes the GIL for its duration, so the toolkit's other threads keep running between
// calls and concurrent calls are serialised by Python itself.
#ifndef DSAMPLER_PYTHON_BRIDGE_H
#define DSAMPLER_PYTHON_BRIDGE_H

#include <stdint.h>

typedef struct dsp_python_function dsp_python_function;

/// Loads the function `name` from the Python file at `path` (its directory joins sys.path first). Returns NULL on
/// failure with *error set to a message (malloc'ed; free it): the interpreter or NumPy missing, the file missing,
/// an exception while importing (type, message, innermost frames), no such function.
dsp_python_function *dsp_python_load(const char *path, const char *name, char **error);

/// Reads the module constant `name` as a double: 1 when defined, 0 when absent, -1 on error (*error set).
int dsp_python_constant(dsp_python_function *function, const char *name, double *value, char **error);

/// 1 when the module defines `<name>_grad`, else 0.
int dsp_python_has_gradient_function(const dsp_python_function *function);

/// Calls the function on the n rows of x (n × d, row-major), passed as a fresh float64 NumPy array: writes log R (n)
/// and, when `gradient` is non-NULL, ∇log R (n × d, rounded to float). Returns 0 on success, 1 when a gradient was
/// asked for and neither the function's (log_r, grad) nor `<name>_grad` gave one, -1 on a Python exception or a
/// result of the wrong type, dtype or shape (*error set).
int dsp_python_call(dsp_python_function *function, int64_t n, int64_t d, const float *x, double *log_r, float *gradient,
                    char **error);

#endif
