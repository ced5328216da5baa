#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "python_bridge.h"

struct dsp_python_function {
    PyObject *module, *function, *gradient, *name;  // strong references; gradient may be Py_None
};

// Loading, result checks and error descriptions are plain Python, compiled once under the file name <dsampler> so
// that tracebacks can leave these frames out and show only the user's.
static const char *helpers =
    "import sys, os, importlib.util, traceback\n"
    "try:\n"
    "    import numpy\n"
    "    numpy_error = None\n"
    "except Exception as e:\n"
    "    numpy, numpy_error = None, f'{type(e).__name__}: {e}'\n"
    "# The interpreter that matches this libpython, for child processes (not whatever python3 is first on PATH).\n"
    "_own = os.path.join(sys.base_prefix, 'bin', 'python%d.%d' % sys.version_info[:2])\n"
    "if os.path.isfile(_own):\n"
    "    sys.executable = _own\n"
    "class DsamplerError(Exception):\n"
    "    pass\n"
    "# Output the module prints to a closed pipe (`dsampler train ... | head`) is dropped instead of failing the call:\n"
    "# the toolkit notices the closed output itself and stops the run as interrupted, with its checkpoint.\n"
    "class ClosedPipeTolerant:\n"
    "    def __init__(self, stream):\n"
    "        self._stream = stream\n"
    "    def write(self, text):\n"
    "        try:\n"
    "            return self._stream.write(text)\n"
    "        except BrokenPipeError:\n"
    "            return len(text)\n"
    "    def flush(self):\n"
    "        try:\n"
    "            self._stream.flush()\n"
    "        except BrokenPipeError:\n"
    "            pass\n"
    "    def __getattr__(self, name):\n"
    "        return getattr(self._stream, name)\n"
    "# SIGINT and SIGTERM stay the toolkit's (stop after the iteration, keep the checkpoint): a handler a module\n"
    "# installs for them through the signal module is not installed (it would turn a stop into an exception).\n"
    "import signal as _signal\n"
    "_install_handler = _signal.signal\n"
    "_toolkit_signals = (_signal.SIGINT, _signal.SIGTERM)\n"
    "_told = set()\n"
    "def _signal_guard(signalnum, handler):\n"
    "    if signalnum in _toolkit_signals:\n"
    "        if signalnum not in _told:\n"
    "            _told.add(signalnum)\n"
    "            print(f'dsampler: {_signal.Signals(signalnum).name} stays with dsampler (the run stops after its iteration and keeps '\n"
    "                  'its checkpoint); the handler the module installs for it is ignored', file=sys.stderr)\n"
    "        return _signal.getsignal(signalnum)\n"
    "    return _install_handler(signalnum, handler)\n"
    "_signal.signal = _signal_guard\n"
    "if sys.stdout is not None:\n"
    "    sys.stdout = ClosedPipeTolerant(sys.stdout)\n"
    "if sys.stderr is not None:\n"
    "    sys.stderr = ClosedPipeTolerant(sys.stderr)\n"
    "def load(path, name):\n"
    "    if numpy is None:\n"
    "        raise DsamplerError(f'NumPy cannot be imported by the embedded Python {sys.version.split()[0]} ({numpy_error}); '\n"
    "                            'install python3-numpy (Scripts/setup does) or point PYTHONPATH at a NumPy for this Python')\n"
    "    if not os.path.isfile(path):\n"
    "        raise DsamplerError('no such file')\n"
    "    directory = os.path.dirname(os.path.abspath(path))\n"
    "    if directory not in sys.path:\n"
    "        sys.path.insert(0, directory)\n"
    "    # The file's own name when free, so that child processes (multiprocessing's spawn) can import it again;\n"
    "    # otherwise a name made unique by the path.\n"
    "    stem = os.path.splitext(os.path.basename(path))[0]\n"
    "    taken = sys.modules.get(stem)\n"
    "    if stem.isidentifier() and (taken is None or getattr(taken, '__file__', None) == os.path.abspath(path)):\n"
    "        module_name = stem\n"
    "    else:\n"
    "        module_name = 'dsampler_energy_' + ''.join(c if c.isalnum() else '_' for c in os.path.abspath(path))\n"
    "    spec = importlib.util.spec_from_file_location(module_name, path)\n"
    "    if spec is None or spec.loader is None:\n"
    "        raise DsamplerError('not a Python source file (name it FILE.py)')\n"
    "    module = importlib.util.module_from_spec(spec)\n"
    "    sys.modules[module_name] = module\n"
    "    try:\n"
    "        spec.loader.exec_module(module)\n"
    "    finally:\n"
    "        flush()\n"
    "    function = getattr(module, name, None)\n"
    "    if not callable(function):\n"
    "        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith('_') and getattr(v, '__module__', None) == module_name)\n"
    "        what = 'no function' if function is None else f'{article(type(function).__name__)}, not a function,'\n"
    "        raise DsamplerError(f'defines {what} {name!r}; its functions: ' + (', '.join(found) or 'none'))\n"
    "    gradient = getattr(module, name + '_grad', None)\n"
    "    if gradient is not None and not callable(gradient):\n"
    "        raise DsamplerError(f'{name}_grad is {article(type(gradient).__name__)}, not a function')\n"
    "    return module, function, gradient\n"
    "def article(noun):\n"
    "    return ('an ' if noun[:1] in 'aeiou' else 'a ') + noun\n"
    "def constant(module, name):\n"
    "    value = getattr(module, name, None)\n"
    "    if value is None:\n"
    "        return None\n"
    "    if isinstance(value, bool) or not isinstance(value, (int, float, numpy.integer, numpy.floating)):\n"
    "        raise DsamplerError(f'{name} = {value!r} must be a number')\n"
    "    return float(value)\n"
    "def check(value, shape, what, name):\n"
    "    if isinstance(value, numpy.ma.MaskedArray):\n"
    "        raise DsamplerError(f'{name} returned {what} as a masked array, whose masked entries would be read as the values under the mask; '\n"
    "                            'return a plain array (numpy.ma.filled with the value you mean, or compute without masks)')\n"
    "    if not isinstance(value, numpy.ndarray):\n"
    "        raise DsamplerError(f'{name} returned {what} as {type(value).__name__}; return a NumPy float64 array of shape {shape}')\n"
    "    if value.dtype.kind == 'f' and value.dtype.itemsize == 8 and not value.dtype.isnative:\n"
    "        value = value.astype(numpy.float64)  # float64 in the other byte order: the same numbers\n"
    "    if value.dtype != numpy.float64:\n"
    "        raise DsamplerError(f'{name} returned {what} with dtype {value.dtype}; return float64 (compute in the dtype of x): '\n"
    "                            'log R is kept in double precision')\n"
    "    if value.shape != shape:\n"
    "        raise DsamplerError(f'{name} returned {what} of shape {value.shape} for {shape[0]} point{\"\" if shape[0] == 1 else \"s\"}; expected {shape}')\n"
    "    return numpy.ascontiguousarray(value)\n"
    "def flush():\n"
    "    for stream in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            stream.flush()\n"
    "        except Exception:\n"
    "            pass\n"
    "def call(function, gradient, name, x, want_gradient):\n"
    "    n, d = x.shape\n"
    "    try:\n"
    "        out = function(x)\n"
    "    finally:\n"
    "        flush()\n"
    "    grad, grad_name = None, name\n"
    "    if isinstance(out, tuple):\n"
    "        if len(out) != 2:\n"
    "            raise DsamplerError(f'{name} returned a tuple of {len(out)} items; return log_r or (log_r, grad)')\n"
    "        out, grad = out\n"
    "        if gradient is not None:\n"
    "            raise DsamplerError(f'{name} returns (log_r, grad) and the module also defines {name}_grad; keep one of the two')\n"
    "    if want_gradient and grad is None and gradient is not None:\n"
    "        grad, grad_name = gradient(x), name + '_grad'\n"
    "    out = check(out, (n,), 'log_r', name)\n"
    "    if want_gradient and grad is not None:\n"
    "        grad = check(grad, (n, d), 'the gradient', grad_name)\n"
    "    return out, (grad if want_gradient else None)\n"
    "def shorten(text, limit=2000):\n"
    "    text = text.encode('utf-8', 'backslashreplace').decode('utf-8')  # lone surrogates cannot cross as UTF-8\n"
    "    return text if len(text) <= limit else text[:limit] + f'... ({len(text) - limit} more characters)'\n"
    "def describe(error):\n"
    "    try:\n"
    "        message = str(error)\n"
    "    except Exception:\n"
    "        message = '(its message could not be printed)'\n"
    "    if isinstance(error, DsamplerError):\n"
    "        return shorten(message)\n"
    "    # The user's frames: not these helpers' nor importlib's (<frozen importlib._bootstrap>).\n"
    "    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != '<dsampler>' and not f.filename.startswith('<frozen')][-3:]\n"
    "    lines = [f'  File \"{f.filename}\", line {f.lineno}, in {f.name}' + (f'\\n    {f.line}' if f.line else '') for f in frames]\n"
    "    if isinstance(error, SyntaxError) and error.filename:  # where the parser stopped: the file in full\n"
    "        lines.append(f'  File \"{error.filename}\", line {error.lineno}' + (f'\\n    {error.text.strip()}' if error.text else ''))\n"
    "    return '\\n'.join([shorten(f'{type(error).__name__}: {message}')] + lines)\n";

static PyObject *namespace;  // the helpers' globals
static char *start_error;    // why the interpreter or the helpers could not start
static pthread_once_t started = PTHREAD_ONCE_INIT;

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *out = malloc(n);
    if (out) memcpy(out, s, n);
    return out;
}

// The pending exception described by the helpers (with the GIL held); clears it.
static char *describe_exception(void) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback && value) PyException_SetTraceback(value, traceback);
    char *message = NULL;
    PyObject *describe = namespace ? PyDict_GetItemString(namespace, "describe") : NULL;  // borrowed
    PyObject *text = describe && value ? PyObject_CallOneArg(describe, value) : NULL;
    if (text) {
        const char *utf8 = PyUnicode_AsUTF8(text);
        if (utf8) message = copy_string(utf8);
        Py_DECREF(text);
    }
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return message ? message : copy_string("a Python exception that could not be described");
}

static void start(void) {
    // Through PyConfig, so that a broken installation (a wrong PYTHONHOME) is reported instead of aborting.
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  // interruption stays the toolkit's
    config.parse_argv = 0;
    config.configure_c_stdio = 0;  // the toolkit's C streams keep their buffering (a closed output is found on flush)
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        const char *what = status.err_msg ? status.err_msg : "unknown error";
        size_t n = strlen(what) + 256;
        start_error = malloc(n);
        if (start_error) snprintf(start_error, n, "the embedded Python could not start (%s%s%s); check PYTHONHOME and PYTHONPATH, "
                                  "or install python3-dev (Scripts/setup)", status.func ? status.func : "", status.func ? ": " : "", what);
        return;
    }
    PyObject *globals = PyDict_New();
    PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
    PyObject *code = Py_CompileString(helpers, "<dsampler>", Py_file_input);
    PyObject *result = code ? PyEval_EvalCode(code, globals, globals) : NULL;
    if (result) {
        namespace = globals;
    } else {
        char *why = describe_exception();
        size_t n = strlen(why) + 64;
        start_error = malloc(n);
        if (start_error) snprintf(start_error, n, "the embedded Python could not start: %s", why);
        free(why);
        Py_DECREF(globals);
    }
    Py_XDECREF(result);
    Py_XDECREF(code);
    PyEval_SaveThread();  // release the GIL: every call takes it back with PyGILState_Ensure
}

// The helper `name` called with `args` (a new reference, stolen); NULL with a Python exception pending.
static PyObject *call_helper(const char *name, PyObject *args) {
    PyObject *helper = PyDict_GetItemString(namespace, name);  // borrowed
    PyObject *result = args ? PyObject_CallObject(helper, args) : NULL;
    Py_XDECREF(args);
    return result;
}

// The toolkit's handling of SIGINT and SIGTERM (stop at the end of the iteration, keep the checkpoint) and SIGPIPE
// (ignored: a closed output is an error on write). The helpers keep Python's `signal.signal` off SIGINT and SIGTERM
// at any time; a handler installed otherwise while the module imports (a C extension, `signal.signal(SIGPIPE, …)`)
// is put back after the import. Not after every call: the six sigaction calls cost 1.5 µs, a sixth of a call's
// overhead (`bench python-call-d2`), for extensions that install handlers at import anyway.
static const int guarded_signals[] = { SIGINT, SIGTERM, SIGPIPE };
enum { guarded_count = sizeof guarded_signals / sizeof *guarded_signals };

static void save_signals(struct sigaction *saved) {
    for (int k = 0; k < guarded_count; k++) sigaction(guarded_signals[k], NULL, &saved[k]);
}

static void restore_signals(const struct sigaction *saved) {
    for (int k = 0; k < guarded_count; k++) {
        struct sigaction now;
        sigaction(guarded_signals[k], NULL, &now);
        if (now.sa_handler != saved[k].sa_handler || now.sa_flags != saved[k].sa_flags) sigaction(guarded_signals[k], &saved[k], NULL);
    }
}

dsp_python_function *dsp_python_load(const char *path, const char *name, char **error) {
    pthread_once(&started, start);
    if (start_error) { *error = copy_string(start_error); return NULL; }
    PyGILState_STATE gil = PyGILState_Ensure();
    dsp_python_function *f = NULL;
    struct sigaction saved[guarded_count];
    save_signals(saved);
    PyObject *loaded = call_helper("load", Py_BuildValue("(ss)", path, name));
    restore_signals(saved);
    if (loaded) {
        f = malloc(sizeof *f);
        PyObject *module, *function, *gradient;
        PyArg_ParseTuple(loaded, "OOO", &module, &function, &gradient);
        Py_INCREF(module); Py_INCREF(function); Py_INCREF(gradient);
        *f = (dsp_python_function){ module, function, gradient, PyUnicode_FromString(name) };
        Py_DECREF(loaded);
    } else {
        *error = describe_exception();
    }
    PyGILState_Release(gil);
    return f;
}

int dsp_python_constant(dsp_python_function *function, const char *name, double *value, char **error) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int status = -1;
    PyObject *result = call_helper("constant", Py_BuildValue("(Os)", function->module, name));
    if (!result) {
        *error = describe_exception();
    } else {
        status = result == Py_None ? 0 : 1;
        if (status == 1) *value = PyFloat_AsDouble(result);
        Py_DECREF(result);
    }
    PyGILState_Release(gil);
    return status;
}

int dsp_python_has_gradient_function(const dsp_python_function *function) {
    return function->gradient != Py_None;
}

// Copies the float64 array `array` (checked by the helpers: C-contiguous, of `count` values) into `doubles` or, when
// that is NULL, rounded into `floats`.
static int read_array(PyObject *array, Py_ssize_t count, double *doubles, float *floats) {
    Py_buffer view;
    if (PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS) != 0) return -1;
    int ok = view.len == count * (Py_ssize_t)sizeof(double);
    const double *values = view.buf;
    if (ok && doubles) memcpy(doubles, values, (size_t)count * sizeof(double));
    if (ok && !doubles) for (Py_ssize_t k = 0; k < count; k++) floats[k] = (float)values[k];
    PyBuffer_Release(&view);
    return ok ? 0 : -1;
}

int dsp_python_call(dsp_python_function *function, int64_t n, int64_t d, const float *x, double *log_r, float *gradient,
                    char **error) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int status = -1;
    // x as a fresh array that Python owns (a function may keep a reference to it), filled in double precision.
    PyObject *numpy = PyDict_GetItemString(namespace, "numpy");  // borrowed
    PyObject *points = PyObject_CallMethod(numpy, "empty", "((LL))", (long long)n, (long long)d);
    Py_buffer view;
    if (points && PyObject_GetBuffer(points, &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) == 0) {
        double *xs = view.buf;
        for (int64_t k = 0; k < n * d; k++) xs[k] = (double)x[k];
        PyBuffer_Release(&view);
        PyObject *result = call_helper("call", Py_BuildValue("(OOOOi)", function->function, function->gradient, function->name,
                                                             points, gradient != NULL));
        if (result) {
            PyObject *values = PyTuple_GetItem(result, 0), *grads = PyTuple_GetItem(result, 1);  // borrowed
            status = read_array(values, n, log_r, NULL);
            if (status == 0 && gradient) status = grads == Py_None ? 1 : read_array(grads, n * d, NULL, gradient);
            Py_DECREF(result);
        }
    }
    if (status < 0) *error = PyErr_Occurred() ? describe_exception() : copy_string("the function's result could not be read");
    Py_XDECREF(points);
    PyGILState_Release(gil);
    return status;
}
