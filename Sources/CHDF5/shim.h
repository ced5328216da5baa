#include <hdf5.h>
// HDF5's type and property-list identifiers are macros over library globals, which Swift cannot import:
// these inline functions expose the ones the run-file store uses.
static inline hid_t dsh5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t dsh5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t dsh5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t dsh5_c_s1(void) { return H5T_C_S1; }
static inline hid_t dsh5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t dsh5_s_all(void) { return H5S_ALL; }
static inline hid_t dsh5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline unsigned dsh5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned dsh5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t dsh5_variable(void) { return H5T_VARIABLE; }
