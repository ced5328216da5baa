import CHDF5
import Foundation

/// A failed HDF5 operation, naming the file and what was being done.
public struct HDF5Error: Error, CustomStringConvertible {
    /// The file, the operation and HDF5's reason.
    public let message: String
    public var description: String { message }
}

/// Reads and writes `Node` trees as HDF5 files (h5py-compatible: native little-endian numbers, variable-length
/// UTF-8 strings).
public enum HDF5 {
    /// A NUL-terminated C buffer as a String.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `root` to `path` atomically: to a new temporary file beside it (created exclusively, so it never
    /// follows a planted link or reuses a file), synced to disk, then renamed over `path`, so a reader (or a
    /// crash) never sees a half-written run file. `path` must be a regular file or not exist: a device, FIFO,
    /// directory or symbolic link there is refused rather than replaced.
    /// - Throws: `HDF5Error` naming the file and the cause (e.g. "no space left on device"); the temporary file
    ///   is removed and `path` is unchanged.
    public static func write(_ root: Node, to path: String) throws {
        silenceErrorStack
        let temporary = try AtomicFile.temporaryPath(beside: path)
        let creation = dsh5_file_create_with_userblock(hsize_t(Seal.size))
        guard creation >= 0 else { throw HDF5Error(message: "cannot set up \(path): the HDF5 library refused a user block") }
        defer { H5Pclose(creation) }
        let file = H5Fcreate(temporary, dsh5_f_acc_excl(), creation, dsh5_p_default())
        guard file >= 0 else {
            throw HDF5Error(message: "cannot create \(temporary) beside \(path): \(systemReason(near: path, fallback: "check that the folder is writable"))")
        }
        do {
            try writeGroup(root, into: file, path: path)
        } catch {
            H5Fclose(file)
            unlink(temporary)
            throw HDF5Error(message: "\(error) (\(systemReason(near: path, fallback: "the file is unchanged")))")
        }
        guard H5Fclose(file) >= 0, (try? Seal.write(temporary)) != nil else {
            unlink(temporary)
            throw HDF5Error(message: "cannot finish writing \(path): \(systemReason(near: path, fallback: "the HDF5 library could not flush the file"))")
        }
        try AtomicFile.publish(temporary, as: path)
    }

    /// Why a write near `path` failed, as the system sees it: a full disk or a read-only folder (HDF5 does not
    /// pass errno on); otherwise `fallback`.
    static func systemReason(near path: String, fallback: String) -> String {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var fs = statvfs()
        if statvfs(folder, &fs) == 0 {
            if fs.f_flag & UInt(ST_RDONLY) != 0 { return "the file system of \(folder) is read-only" }
            if UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 1 << 20 { return "no space left on device (\(folder))" }
        }
        if access(folder, W_OK) != 0 { return "\(folder) is not writable: \(String(cString: strerror(errno)))" }
        return fallback
    }

    /// Reads the whole file at `path`.
    public static func read(_ path: String) throws -> Node {
        silenceErrorStack
        var info = stat()
        guard stat(path, &info) == 0 else { throw HDF5Error(message: "no such file: \(path)") }
        // A FIFO or device would block or stream forever inside the library: only regular files are opened.
        guard info.st_mode & S_IFMT == S_IFREG else { throw HDF5Error(message: "\(path) is not a regular file") }
        try Seal.verify(path)
        let file = H5Fopen(path, dsh5_f_acc_rdonly(), dsh5_p_default())
        guard file >= 0 else { throw HDF5Error(message: "\(path) is not a readable HDF5 file") }
        defer { H5Fclose(file) }
        return try readGroup(file, path: path, depth: 0)
    }

    /// Deepest group nesting read (run files use 3); a corrupt link that loops back stops here.
    static let maxDepth = 16
    /// Largest dataset read or written, in elements (2³¹, 8 GiB of floats); runs are sized within it
    /// (`RunConfig.checkSizes`).
    public static let maxElements = 1 << 31

    /// Set up once, before the library's first use: no error printing (every status is checked here), and no
    /// clean-up at process exit — after a failed write (a full disk) the library's exit handler would flush the
    /// half-written file again and crash; every file this store opens is closed (or, when writing failed,
    /// removed) before it returns, so there is nothing left for it to do.
    private static let silenceErrorStack: Void = {
        H5dont_atexit()
        H5Eset_auto2(dsh5_e_default(), nil, nil)
    }()

    // MARK: writing

    private static func writeGroup(_ node: Node, into group: hid_t, path: String) throws {
        for (name, value) in node.attributes { try writeAttribute(name, value, on: group, path: path) }
        for (name, data) in node.datasets { try writeDataset(name, data, in: group, path: path) }
        for (name, child) in node.groups {
            let g = H5Gcreate2(group, name, dsh5_p_default(), dsh5_p_default(), dsh5_p_default())
            guard g >= 0 else { throw HDF5Error(message: "cannot create group \(name) in \(path)") }
            defer { H5Gclose(g) }
            try writeGroup(child, into: g, path: path)
        }
    }

    private static func writeAttribute(_ name: String, _ value: AttributeValue, on loc: hid_t, path: String) throws {
        let space = dsh5_s_scalar()
        defer { H5Sclose(space) }
        var status: herr_t = -1
        switch value {
        case .int(var v):
            let a = H5Acreate2(loc, name, dsh5_native_int64(), space, dsh5_p_default(), dsh5_p_default())
            if a >= 0 { status = H5Awrite(a, dsh5_native_int64(), &v); H5Aclose(a) }
        case .double(var v):
            let a = H5Acreate2(loc, name, dsh5_native_double(), space, dsh5_p_default(), dsh5_p_default())
            if a >= 0 { status = H5Awrite(a, dsh5_native_double(), &v); H5Aclose(a) }
        case .bool(let b):
            let type = dsh5_bool_type()
            defer { H5Tclose(type) }
            var v: Int8 = b ? 1 : 0
            let a = H5Acreate2(loc, name, type, space, dsh5_p_default(), dsh5_p_default())
            if a >= 0 { status = H5Awrite(a, type, &v); H5Aclose(a) }
        case .string(let s):
            let type = stringType()
            defer { H5Tclose(type) }
            let a = H5Acreate2(loc, name, type, space, dsh5_p_default(), dsh5_p_default())
            if a >= 0 {
                s.withCString { c in
                    var pointer: UnsafePointer<CChar>? = c
                    status = H5Awrite(a, type, &pointer)
                }
                H5Aclose(a)
            }
        }
        guard status >= 0 else { throw HDF5Error(message: "cannot write attribute \(name) in \(path)") }
    }

    private static func writeDataset(_ name: String, _ data: Dataset, in loc: hid_t, path: String) throws {
        var dims = data.shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        func put<T>(_ values: [T], _ type: hid_t) -> herr_t {
            let d = H5Dcreate2(loc, name, type, space, dsh5_p_default(), dsh5_p_default(), dsh5_p_default())
            guard d >= 0 else { return -1 }
            defer { H5Dclose(d) }
            return values.withUnsafeBytes { H5Dwrite(d, type, dsh5_s_all(), dsh5_s_all(), dsh5_p_default(), $0.baseAddress) }
        }
        let status: herr_t
        switch data {
        case .float(_, let v): status = put(v, dsh5_native_float())
        case .double(_, let v): status = put(v, dsh5_native_double())
        case .int64(_, let v): status = put(v, dsh5_native_int64())
        }
        guard status >= 0 else { throw HDF5Error(message: "cannot write dataset \(name) in \(path)") }
    }

    private static func stringType() -> hid_t {
        let t = H5Tcopy(dsh5_c_s1())
        H5Tset_size(t, dsh5_variable())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    // MARK: reading

    /// Every call's status is checked: a damaged file gives `HDF5Error` ("… is damaged"), never garbage values.
    private static func readGroup(_ group: hid_t, path: String, depth: Int) throws -> Node {
        func damaged(_ what: String) -> HDF5Error { HDF5Error(message: "\(path) is damaged (\(what)); it is not a readable run file") }
        guard depth <= maxDepth else { throw damaged("groups nested deeper than \(maxDepth)") }
        var node = Node()
        let attributeCount = dsh5_attribute_count(group)
        guard attributeCount >= 0, attributeCount < 100_000 else { throw damaged("attribute table") }
        for i in 0..<attributeCount {
            let a = H5Aopen_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), dsh5_p_default(), dsh5_p_default())
            guard a >= 0 else { throw damaged("attribute \(i)") }
            defer { H5Aclose(a) }
            let nameLength = H5Aget_name(a, 0, nil)
            guard nameLength > 0, nameLength < 4096 else { throw damaged("attribute \(i)'s name") }
            var nameBuffer = [CChar](repeating: 0, count: Int(nameLength) + 1)
            guard H5Aget_name(a, nameBuffer.count, &nameBuffer) == nameLength else { throw damaged("attribute \(i)'s name") }
            node.set(Self.string(nameBuffer), try readAttribute(a, path: path))
        }
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0, info.nlinks < 100_000 else { throw damaged("link table") }
        for i in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, dsh5_p_default())
            guard length > 0, length < 4096 else { throw damaged("link \(i)'s name") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, dsh5_p_default()) == length else {
                throw damaged("link \(i)'s name")
            }
            let name = Self.string(buffer)
            let kind = dsh5_object_type(group, name)
            if kind == dsh5_type_group() {
                let g = H5Gopen2(group, name, dsh5_p_default())
                guard g >= 0 else { throw damaged("group \(name)") }
                defer { H5Gclose(g) }
                node.put(name, try readGroup(g, path: path, depth: depth + 1))
            } else if kind == dsh5_type_dataset() {
                node.put(name, try readDataset(group, name, path: path))
            }
        }
        return node
    }

    /// Reads a scalar attribute. Anything else (an array where a number belongs, an unknown type) is refused
    /// before reading, since the value is read into a single scalar.
    private static func readAttribute(_ a: hid_t, path: String) throws -> AttributeValue {
        let space = H5Aget_space(a)
        guard space >= 0 else { throw HDF5Error(message: "\(path) is damaged (an attribute's shape)") }
        let points = H5Sget_simple_extent_npoints(space)
        H5Sclose(space)
        guard points == 1 else {
            throw HDF5Error(message: "\(path) has an attribute with \(points) values where one belongs; it is not a dsampler run file")
        }
        let type = H5Aget_type(a)
        guard type >= 0 else { throw HDF5Error(message: "\(path) is damaged (an attribute's type)") }
        defer { H5Tclose(type) }
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            var v: Int64 = 0
            guard H5Aread(a, dsh5_native_int64(), &v) >= 0 else { throw HDF5Error(message: "cannot read an integer attribute in \(path)") }
            return .int(v)
        case H5T_FLOAT:
            var v: Double = 0
            guard H5Aread(a, dsh5_native_double(), &v) >= 0 else { throw HDF5Error(message: "cannot read a number attribute in \(path)") }
            return .double(v)
        case H5T_ENUM where H5Tget_size(type) == 1:
            var v: Int8 = 0
            guard H5Aread(a, type, &v) >= 0, v == 0 || v == 1 else { throw HDF5Error(message: "cannot read a boolean attribute in \(path)") }
            return .bool(v == 1)
        case H5T_STRING where H5Tis_variable_str(type) > 0:
            let memType = stringType()
            defer { H5Tclose(memType) }
            var pointer: UnsafeMutablePointer<CChar>?
            guard H5Aread(a, memType, &pointer) >= 0, let p = pointer else {
                throw HDF5Error(message: "cannot read a string attribute in \(path)")
            }
            defer { H5free_memory(p) }
            return .string(String(cString: p))
        default:
            throw HDF5Error(message: "unsupported attribute type in \(path)")
        }
    }

    private static func readDataset(_ loc: hid_t, _ name: String, path: String) throws -> Dataset {
        let d = H5Dopen2(loc, name, dsh5_p_default())
        guard d >= 0 else { throw HDF5Error(message: "cannot open dataset \(name) in \(path)") }
        defer { H5Dclose(d) }
        let space = H5Dget_space(d)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard space >= 0, (0...8).contains(rank) else { throw HDF5Error(message: "dataset \(name) in \(path) is damaged (its shape)") }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
            throw HDF5Error(message: "dataset \(name) in \(path) is damaged (its shape)")
        }
        let shape = dims.map { Int(clamping: $0) }
        var count = 1
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product <= maxElements else {
                throw HDF5Error(message: "dataset \(name) in \(path) claims \(shape) elements, more than \(maxElements); the file is damaged")
            }
            count = product
        }
        let type = H5Dget_type(d)
        guard type >= 0 else { throw HDF5Error(message: "dataset \(name) in \(path) is damaged (its type)") }
        defer { H5Tclose(type) }
        func get<T>(_ zero: T, _ memType: hid_t) throws -> [T] {
            var values = [T](repeating: zero, count: count)
            let status = values.withUnsafeMutableBytes { H5Dread(d, memType, dsh5_s_all(), dsh5_s_all(), dsh5_p_default(), $0.baseAddress) }
            guard status >= 0 else {
                throw HDF5Error(message: "cannot read dataset \(name) in \(path): its data is damaged (checksum or storage)")
            }
            return values
        }
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            if H5Tget_size(type) == 4 { return .float(shape: shape, values: try get(Float(0), dsh5_native_float())) }
            return .double(shape: shape, values: try get(Double(0), dsh5_native_double()))
        case H5T_INTEGER:
            return .int64(shape: shape, values: try get(Int64(0), dsh5_native_int64()))
        default:
            throw HDF5Error(message: "dataset \(name) in \(path) has an unsupported type")
        }
    }
}

/// The whole-file checksum of files this store writes, kept in the HDF5 user block (the first `size` bytes, which
/// the library and h5py skip): a magic line, then the FNV-1a 64 hash and length of every byte after the block.
///
/// HDF5 1.10 checksums only some of its metadata, and a flipped byte in a global heap (variable-length strings)
/// makes the library copy past its buffers. Verifying the whole file before the library sees it turns any
/// truncation or alteration into an error naming the file. Files without the block (written before it existed)
/// are read as they are.
enum Seal {
    /// User-block size (HDF5 needs a power of two ≥ 512).
    static let size = 512
    static let magic = "dsampler-run-file-seal v1\n"

    /// FNV-1a, 64 bit, of `bytes`.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// The seal line for the file's bytes after the block.
    static func line(hash: UInt64, length: Int) -> String { magic + "fnv1a64 \(String(hash, radix: 16)) length \(length)\n" }

    /// Writes the seal of the closed file at `path` into its user block.
    static func write(_ path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count >= size else { throw HDF5Error(message: "\(path) is shorter than its user block") }
        let body = data.dropFirst(size)
        let text = Array(line(hash: body.withUnsafeBytes(hash), length: body.count).utf8)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HDF5Error(message: "cannot seal \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard pwrite(fd, text, text.count, 0) == text.count else { throw HDF5Error(message: "cannot seal \(path): \(String(cString: strerror(errno)))") }
    }

    /// Checks the seal of the file at `path`, if it has one.
    /// - Throws: `HDF5Error` saying the file is damaged when the length or hash differ.
    static func verify(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: size)) ?? Data()
        guard head.starts(with: Array(magic.utf8)) else {
            // A seal line with flipped bytes is damage, not a file without a seal: the body it guarded may be
            // damaged too, and must not reach the library. (Unsealed files start with HDF5's signature or with a
            // user block of their own, which shares no more than chance bytes with the magic line.)
            let matching = zip(head, magic.utf8).filter { $0 == $1 }.count
            if matching >= magic.utf8.count / 2 {
                throw HDF5Error(message: "\(path) is damaged: its checksum line was altered after writing; use another copy or rerun")
            }
            return
        }
        let body = (try? handle.readToEnd()) ?? Data()
        let expected = line(hash: body.withUnsafeBytes(hash), length: body.count)
        guard head.prefix(expected.utf8.count).elementsEqual(expected.utf8) else {
            throw HDF5Error(message: "\(path) is damaged: its content does not match the checksum written with it (truncated or "
                            + "altered after writing); use another copy or rerun")
        }
    }
}
