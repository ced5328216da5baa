#include <hdf5.h>
// HDF5's type and property-list identifiers are macros over library globals, which Swift cannot import:
// these inline functions expose the ones the run-file store uses.
static inline hid_t dsh5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t dsh5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t dsh5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t dsh5_c_s1(void) { return H5T_C_S1; }
// h5py's boolean type: an 8-bit enum with FALSE = 0 and TRUE = 1.
static inline hid_t dsh5_bool_type(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char no = 0, yes = 1;
    if (t >= 0) { H5Tenum_insert(t, "FALSE", &no); H5Tenum_insert(t, "TRUE", &yes); }
    return t;
}
static inline hid_t dsh5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t dsh5_s_all(void) { return H5S_ALL; }
static inline hid_t dsh5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline unsigned dsh5_f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned dsh5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
// A file-creation property list with a user block of `size` bytes before the HDF5 data (HDF5 ignores it; the
// run-file store keeps its whole-file checksum there).
static inline hid_t dsh5_file_create_with_userblock(hsize_t size) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0 && H5Pset_userblock(fcpl, size) < 0) { H5Pclose(fcpl); return -1; }
    return fcpl;
}
static inline size_t dsh5_variable(void) { return H5T_VARIABLE; }
static inline hid_t dsh5_e_default(void) { return H5E_DEFAULT; }
static inline hid_t dsh5_s_scalar(void) { return H5Screate(H5S_SCALAR); }
// H5Oget_info* changed signature across 1.10/1.12/1.14, and Debian's build may default to an older API:
// call the versioned functions explicitly.
#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t dsh5_object_info;
#define DSH5_INFO_BY_NAME(loc, name, info, fields) H5Oget_info_by_name3(loc, name, info, fields, H5P_DEFAULT)
#define DSH5_INFO(loc, info, fields) H5Oget_info3(loc, info, fields)
#else
typedef H5O_info_t dsh5_object_info;
#define DSH5_INFO_BY_NAME(loc, name, info, fields) H5Oget_info_by_name2(loc, name, info, fields, H5P_DEFAULT)
#define DSH5_INFO(loc, info, fields) H5Oget_info2(loc, info, fields)
#endif
static inline int dsh5_object_type(hid_t loc, const char *name) {
    dsh5_object_info info;
    if (DSH5_INFO_BY_NAME(loc, name, &info, H5O_INFO_BASIC) < 0) return -1;
    return (int)info.type;
}
static inline long long dsh5_attribute_count(hid_t loc) {
    dsh5_object_info info;
    if (DSH5_INFO(loc, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
    return (long long)info.num_attrs;
}
static inline int dsh5_type_group(void) { return (int)H5O_TYPE_GROUP; }
static inline int dsh5_type_dataset(void) { return (int)H5O_TYPE_DATASET; }
