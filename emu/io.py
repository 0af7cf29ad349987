"""File input/output with clear errors and atomic writes (nothing partial is left).

Every output goes through :func:`save_all`: each file is first written in full to a
temporary file in its own directory, and only when every one of them is written are
they renamed over their targets (a device or pipe such as /dev/null or /dev/stdout
is written to directly, after the files).  A failure (bad data, a full disk, Ctrl-C) removes
the temporary files and leaves every existing output as it was.

No output overwrites an input.  A command runs inside :func:`command_inputs`, and every
file it reads is registered with :func:`add_input` (the CLI registers each input option
and argument as it parses them; :func:`load_npy` registers what it loads).  The one
check, :func:`check_not_input`, called by :func:`check_writable` (early) and by
:func:`save_all` (for every output and every file it would remove), refuses an output
that is the same file as an input: same device and inode by ``os.stat``, so the same
name, a symbolic link or a hard link to it, or ``/dev/stdin`` redirected from it.
Nothing is written then.  Devices and pipes (``-o /dev/stdout``) are written through,
never replaced, and are not checked.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import os
import stat
import tempfile
import zipfile

import numpy as np

from emu.errors import UsageError

TEMP_PREFIX = ".fp8emu-"

# The inputs of the running command: [(what, path)], or None outside a command.
_inputs: list | None = None


@contextlib.contextmanager
def command_inputs():
    """The scope of one command: inputs registered inside it (:func:`add_input`) are
    protected from its outputs.  Scopes nest (an inner one starts empty)."""
    global _inputs
    saved, _inputs = _inputs, []
    try:
        yield
    finally:
        _inputs = saved


def add_input(path, what: str = "") -> None:
    """Register a file the running command reads (``what``: the option naming it, or
    ``""`` for an argument).  Outside :func:`command_inputs` this does nothing."""
    if _inputs is None or path is None or os.fspath(path) == "":
        return
    _inputs.append((what, os.fspath(path)))


def _identity(path):
    """(device, inode) of an existing regular file (through links), else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def check_not_input(path, what: str = "output") -> None:
    """Refuse an output ``path`` that is the same file as an input of the running
    command: UsageError ``WHAT PATH: would overwrite the input [OPTION] FILE``."""
    if not _inputs:
        return
    ident = _identity(path)
    if ident is None:
        return
    for in_what, in_path in _inputs:
        if _identity(in_path) == ident:
            name = f"{in_what} {in_path}" if in_what else in_path
            same = "" if os.path.abspath(in_path) == os.path.abspath(path) else " (the same file)"
            raise UsageError(
                f"{what} {os.fspath(path)}: would overwrite the input {name}{same}; "
                "write the output to another file"
            )


OPEN_ERRORS = {
    FileNotFoundError: "no such file",
    IsADirectoryError: "is a directory",
    PermissionError: "permission denied",
}


def read_error(e: OSError, prefix: str) -> UsageError:
    """The one-line error for an OSError from opening or reading a file; prefix names
    the option and the file (e.g. ``"--a: A.npy"``)."""
    reason = OPEN_ERRORS.get(type(e)) or f"cannot read ({e.strerror or e})"
    return UsageError(f"{prefix}: {reason}")


def load_npy(path, what: str = "input") -> np.ndarray:
    """Load a .npy file as a native-endian, C-contiguous array, or raise UsageError.

    Arrays of one-byte raw values (what ``np.save`` writes for an ml_dtypes float8
    array: ``|V1``, or ``<f1`` for float8_e5m2, which numpy cannot read back) are
    returned as uint8: those bytes are the FP8 codes.  The header is checked first
    (:func:`_npy_header`), so a malformed one, or one that promises more data than
    the file holds, is an error before anything is allocated."""
    add_input(path, what)
    try:
        head = _npy_header(path)
    except tuple(OPEN_ERRORS) as e:
        raise read_error(e, f"{what}: {path}") from None
    except OSError as e:
        raise read_error(e, f"{what}: {path}") from None
    except _BadNpy as e:
        raise UsageError(f"{what}: {path}: not a readable .npy file ({e})") from None
    try:
        if head is not None and head[0] in _ONE_BYTE_FLOATS:
            arr = _load_one_byte_floats(path, head)
        else:
            arr = np.load(path, allow_pickle=False)
    except tuple(OPEN_ERRORS) as e:
        raise read_error(e, f"{what}: {path}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, MemoryError, RecursionError) as e:
        raise UsageError(f"{what}: {path}: not a readable .npy file ({_short(e)})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise UsageError(f"{what}: {path}: is an .npz archive, expected a single .npy array")
    return as_loaded(arr)


# ------------------------------------------------------------------ element codes
# Packed FP4 inputs: ``FILE.npy:e2m1x2`` is a uint8 array holding two e2m1 codes a
# byte along its last axis, element 2i in the low nibble (bits 3..0) and element
# 2i + 1 in the high nibble (bits 7..4): a (M, K/2) file is the (M, K) operand.  One
# spelling per element format of at most 4 bits (name -> format).
def _packed_formats() -> dict:
    from emu.numerics.formats import FORMATS

    return {f"{f.name}x2": f.name for f in FORMATS if "element" in f.roles and f.bits <= 4}


PACKED = _packed_formats()
PACKED_HELP = (
    "FILE.npy:e2m1x2 reads a uint8 array of two e2m1 codes a byte along the last axis "
    "(element 2i in bits 3..0, 2i+1 in bits 7..4)"
)


def split_packed(spec, where: str | None = None):
    """``"x.npy:e2m1x2"`` -> ``("x.npy", "e2m1")``; any other spec -> ``(spec, None)``.
    A suffix of the form ``:NAMEx2`` that is not a packed spelling is an error (unless
    the whole spec names an existing file; ``where`` starts its message, default the
    spec)."""
    spec = os.fspath(spec)
    path, sep, suffix = spec.rpartition(":")
    if not sep or "/" in suffix or os.path.exists(spec):
        return spec, None
    key = suffix.strip().lower()
    if key in PACKED:
        return path, PACKED[key]
    if key.endswith("x2") and key[:-2].isalnum():
        raise UsageError(
            f"{where or spec}: unknown packed format {suffix!r} (packed inputs: "
            f"{', '.join(':' + k for k in PACKED)}, two 4-bit codes a byte)"
        )
    return spec, None


def unpack_codes(arr, fmt: str, what: str) -> np.ndarray:
    """A packed array (uint8, two ``fmt`` codes a byte along the last axis, element
    2i in the low nibble) -> one code a byte, the last axis twice as long."""
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise UsageError(
            f"{what}: packed {fmt} codes ({fmt}x2) must be uint8, two codes a byte, "
            f"got dtype {arr.dtype}"
        )
    if arr.ndim < 1:
        raise UsageError(f"{what}: packed {fmt} codes need at least one axis, got shape ()")
    out = np.empty((*arr.shape[:-1], 2 * arr.shape[-1]), np.uint8)
    out[..., 0::2] = arr & 0x0F
    out[..., 1::2] = arr >> 4
    return out


def pack_codes(codes) -> np.ndarray:
    """The inverse of :func:`unpack_codes`: 4-bit codes (uint8, an even last axis)
    -> two a byte, element 2i in the low nibble."""
    codes = np.asarray(codes, np.uint8)
    if codes.shape[-1] % 2:
        raise UsageError(f"pack: the last axis must be even, got shape {codes.shape}")
    return (codes[..., 0::2] & 0x0F) | (codes[..., 1::2] << 4)


def code_problem(arr, fmt) -> str | None:
    """Why a one-code-a-byte uint8 array does not hold codes of ``fmt`` (a bit set
    above the width of an FP4/FP6 code), or None (also for other dtypes: the operand
    checks name those)."""
    from emu.numerics.formats import first_bad_code, get_format

    f = get_format(fmt)
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        return None
    at = first_bad_code(arr, f)
    if at is None:
        return None
    top = (1 << f.bits) - 1
    where = f" at {list(at)}" if at else ""
    return (
        f"{int(arr[at]):#04x}{where} is not an {f.name} code: {f.name} codes are {f.bits} "
        f"bits (0..{top:#04x}), one a byte in the low bits"
        + (f" (two a byte: FILE.npy:{f.name}x2)" if f"{f.name}x2" in PACKED else "")
    )


def load_codes(spec, what: str, fmt=None) -> np.ndarray:
    """Load an operand input: a .npy file (:func:`load_npy`), or ``FILE.npy:e2m1x2``
    (packed, unpacked here).  ``fmt``: the operand's format (or several, one per
    config of a command): a packed input must be of that format, and a uint8 array
    must hold codes of it (FP4/FP6 codes in the low bits of each byte).  UsageError
    ``WHAT SPEC: ...``."""
    formats = (fmt,) if isinstance(fmt, str) else tuple(fmt or ())
    path, packed = split_packed(spec, f"{what} {spec}")
    arr = load_npy(path, what)
    if packed is not None:
        for f in formats:
            if f != packed:
                raise UsageError(
                    f"{what} {spec}: packed {packed} codes, but the operand format is {f}"
                )
        arr = unpack_codes(arr, packed, f"{what} {spec}")
    for f in dict.fromkeys(formats):
        why = code_problem(arr, f)
        if why:
            raise UsageError(f"{what} {spec}: {why}")
    return arr


class _BadNpy(ValueError):
    """A malformed .npy header (the message is the reason)."""


def check_npz_member(z, key: str) -> None:
    """Check the .npy header of array ``key`` of an open np.load'ed .npz archive (as
    :func:`load_npy` checks a file) before numpy reads it; ValueError (the reason)."""
    name = key if key in z.zip.namelist() else key + ".npy"
    with z.zip.open(name) as fh:
        npy_header_of(fh, z.zip.getinfo(name).file_size)


_NPY_MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 10000  # numpy's own limit (np.load's max_header_size)
_ONE_BYTE_FLOATS = ("<f1", "|f1", ">f1", "=f1")


def _short(e, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _npy_header(path):
    """``(descr, fortran_order, shape, data offset)`` of a .npy file, checked: a dict
    of exactly those keys, a shape of non-negative integers, a known dtype, and data
    that the file holds in full.  None when the file does not start with the .npy
    magic (np.load then says what it is).  Raises _BadNpy, or OSError on reading."""
    with open(path, "rb") as fh:
        return npy_header_of(fh, os.fstat(fh.fileno()).st_size)


def npy_header_of(fh, file_size: int):
    """:func:`_npy_header` of an open binary stream of ``file_size`` bytes (a file, or
    a member of an .npz archive), read from its start."""
    if fh.read(6) != _NPY_MAGIC:
        return None
    ver = fh.read(2)
    if len(ver) < 2 or ver[0] not in (1, 2, 3):
        return None  # np.load names the version
    size_bytes = fh.read(2 if ver[0] == 1 else 4)
    hlen = int.from_bytes(size_bytes, "little")
    if hlen > _MAX_NPY_HEADER:
        raise _BadNpy(f"header of {hlen} bytes, at most {_MAX_NPY_HEADER}")
    raw = fh.read(hlen)
    if len(raw) < hlen:
        raise _BadNpy(f"truncated header ({len(raw)} of {hlen} bytes)")
    offset = 6 + 2 + len(size_bytes) + hlen
    try:
        head = ast.literal_eval(raw.decode("utf-8" if ver[0] == 3 else "latin1"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        raise _BadNpy("the header is not a Python dict literal") from None
    if not isinstance(head, dict) or set(head) != {"descr", "fortran_order", "shape"}:
        keys = sorted(map(str, head)) if isinstance(head, dict) else type(head).__name__
        raise _BadNpy(f"the header must have the keys descr, fortran_order, shape, got {keys}")
    shape, fortran, descr = head["shape"], head["fortran_order"], head["descr"]
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _BadNpy(f"shape is not a tuple of non-negative integers: {_short(repr(shape), 60)}")
    if not isinstance(fortran, bool):
        raise _BadNpy(f"fortran_order is not a valid bool: {_short(repr(fortran), 60)}")
    if descr in _ONE_BYTE_FLOATS:
        itemsize = 1
    else:
        try:
            dtype = np.lib.format.descr_to_dtype(descr)
        except Exception:  # numpy raises several kinds for a bad descriptor
            raise _BadNpy(f"descr is not a valid dtype: {_short(repr(descr), 60)}") from None
        if dtype.hasobject:
            return descr, fortran, shape, offset  # np.load refuses it (no pickles)
        itemsize = dtype.itemsize
    count = math.prod(shape)
    have = max(file_size - offset, 0)
    if count * itemsize > have:
        raise _BadNpy(
            f"Failed to read all data for array. Expected {shape} = {count} elements of "
            f"{itemsize} bytes, the file holds {have} bytes of data"
        )
    return descr, fortran, shape, offset


def as_loaded(arr: np.ndarray) -> np.ndarray:
    """A loaded array as the commands take it: one-byte raw values (ml_dtypes float8
    saved by np.save) as uint8 codes, native byte order, C order (0-d stays 0-d)."""
    if arr.dtype.kind == "V" and arr.dtype.itemsize == 1 and arr.dtype.fields is None:
        arr = arr.view(np.uint8)
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != _native():
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _load_one_byte_floats(path, head):
    """The codes of a .npy whose descr is ``f1`` (an ml_dtypes float8_e5m2 array saved
    by np.save) as uint8; ``head`` is its checked header (:func:`_npy_header`)."""
    _, fortran, shape, offset = head
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = np.fromfile(fh, np.uint8, count=math.prod(shape))
    return data.reshape(shape, order="F" if fortran else "C")


def _native() -> str:
    return "<" if np.little_endian else ">"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target_dir(path, what):
    path = os.fspath(path)
    if not path:
        raise UsageError(f"{what}: empty file name")
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(d):
        raise UsageError(f"{what} {path}: directory {d} does not exist")
    if not os.path.isdir(d):
        raise UsageError(f"{what} {path}: {d} is not a directory")
    return path, d


def save_all(outputs, remove=()) -> None:
    """Write several files atomically, all or nothing.

    ``outputs``: ``(path, data, what)`` triples, ``data`` being bytes, text or a
    numpy array (written as .npy), ``what`` the option naming the file in errors.
    No output may be an input of the running command (:func:`check_not_input`).
    Every file is staged as a temporary file beside its target; only when all are
    staged are they renamed into place.  On any error the staged files are removed,
    existing files are left untouched, and a UsageError names the failing output.
    ``remove``: ``(path, what)`` of files to delete once every output is in place
    (files of an earlier run that this one does not write; missing ones are fine)."""
    outputs, remove = list(outputs), list(remove)
    for path, _, what in outputs:
        check_not_input(path, what)
    for path, what in remove:
        check_not_input(path, what)
    staged, special = [], []
    try:
        for path, data, what in outputs:
            path, d = _target_dir(path, what)
            if os.path.isdir(path):
                raise UsageError(f"{what} {path}: is a directory")
            if _is_special(path):  # /dev/null, /dev/stdout, a pipe: write through
                special.append((path, data, what))
                continue
            try:
                fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=d)
            except OSError as e:
                raise UsageError(f"{what} {path}: cannot write ({e.strerror})") from None
            staged.append((tmp, path, what))
            try:
                with os.fdopen(fd, "wb") as fh:
                    _write(fh, data)
                os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would survive
            except OSError as e:
                raise UsageError(f"{what} {path}: cannot write ({e.strerror or e})") from None
        while staged:
            tmp, path, what = staged[0]
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise UsageError(f"{what} {path}: cannot write ({e.strerror or e})") from None
            staged.pop(0)
        for path, what in remove:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise UsageError(f"{what} {path}: cannot remove ({e.strerror or e})") from None
        for path, data, what in special:
            try:
                with open(path, "wb") as fh:
                    _write(fh, data)
            except OSError as e:
                raise UsageError(f"{what} {path}: cannot write ({e.strerror or e})") from None
    finally:
        for tmp, _, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _is_special(path) -> bool:
    """An existing target that is not a regular file (a device such as /dev/null or
    /dev/stdout, a named pipe): it cannot be replaced by a rename, and must not be."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _write(fh, data) -> None:
    if isinstance(data, str):
        fh.write(data.encode())
    elif isinstance(data, (bytes, bytearray, memoryview)):
        fh.write(data)
    else:
        buf = io.BytesIO()  # serialise first: a failing np.save
        np.save(buf, np.asarray(data), allow_pickle=False)  # writes nothing
        fh.write(buf.getbuffer())


def save_npy(path, arr, what: str = "output") -> None:
    """Write arr to path atomically (temporary file in the same folder, then rename)."""
    save_all([(path, np.asarray(arr), what)])


def save_bytes(path, data: bytes, what: str = "output") -> None:
    save_all([(path, bytes(data), what)])


def save_text(path, text: str, what: str = "output") -> None:
    save_all([(path, str(text), what)])


def check_writable(path, what: str = "output") -> None:
    """Fail early (before a long run) when an output path cannot be written, or is an
    input of the running command."""
    path, d = _target_dir(path, what)
    check_not_input(path, what)
    if os.path.isdir(path):
        raise UsageError(f"{what} {path}: is a directory")
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise UsageError(f"{what} {path}: not writable")
        return
    if not os.access(d, os.W_OK):
        raise UsageError(f"{what} {path}: directory {d} is not writable")


def same_file(paths) -> str | None:
    """The first path that names the same file as an earlier one (None if all differ)."""
    seen = set()
    for p in paths:
        key = os.path.realpath(os.fspath(p))
        if key in seen:
            return p
        seen.add(key)
    return None
