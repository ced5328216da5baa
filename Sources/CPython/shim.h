// CPython's embedding API (Debian python3-dev, found by pkg-config python3-embed). Only PythonBridge includes it.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
