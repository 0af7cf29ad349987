"""File input/output with clear errors and atomic writes (nothing partial is left).

Every output goes through :func:`save_all`: each file is first written in full to a
temporary file in its own directory, and only when every one of them is written are
they renamed over their targets (a device or pipe such as /dev/null or /dev/stdout
is written to directly, after the files).  A failure (bad data, a full disk, Ctrl-C) removes
the temporary files and leaves every existing output as it was.
"""

from __future__ import annotations

import ast
import io
import os
import stat
import tempfile
import zipfile

import numpy as np

from emu.errors import UsageError

TEMP_PREFIX = ".fp8emu-"


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
    returned as uint8: those bytes are the FP8 codes."""
    try:
        arr = np.load(path, allow_pickle=False)
    except tuple(OPEN_ERRORS) as e:
        raise read_error(e, f"{what}: {path}") from None
    except ValueError as e:
        arr = _load_one_byte_floats(path) if "descr" in str(e) else None
        if arr is None:
            raise UsageError(f"{what}: {path}: not a readable .npy file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"{what}: {path}: not a readable .npy file ({e})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise UsageError(f"{what}: {path}: is an .npz archive, expected a single .npy array")
    return as_loaded(arr)


def as_loaded(arr: np.ndarray) -> np.ndarray:
    """A loaded array as the commands take it: one-byte raw values (ml_dtypes float8
    saved by np.save) as uint8 codes, native byte order, C order (0-d stays 0-d)."""
    if arr.dtype.kind == "V" and arr.dtype.itemsize == 1 and arr.dtype.fields is None:
        arr = arr.view(np.uint8)
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != _native():
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _load_one_byte_floats(path):
    """The codes of a .npy whose descr is ``f1`` (an ml_dtypes float8_e5m2 array saved
    by np.save) as uint8, or None when the file is anything else."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            size = int.from_bytes(fh.read(2 if version == (1, 0) else 4), "little")
            head = ast.literal_eval(fh.read(size).decode("latin1"))
            if head.get("descr") not in ("<f1", "|f1", ">f1", "=f1"):
                return None
            shape = tuple(int(d) for d in head["shape"])
            n = int(np.prod(shape, dtype=np.int64))
            data = np.fromfile(fh, np.uint8, count=n)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, AttributeError):
        return None
    if data.size != n:
        return None
    return data.reshape(shape, order="F" if head.get("fortran_order") else "C")


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


def save_all(outputs) -> None:
    """Write several files atomically, all or nothing.

    ``outputs``: ``(path, data, what)`` triples, ``data`` being bytes, text or a
    numpy array (written as .npy), ``what`` the option naming the file in errors.
    Every file is staged as a temporary file beside its target; only when all are
    staged are they renamed into place.  On any error the staged files are removed,
    existing files are left untouched, and a UsageError names the failing output."""
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
    """Fail early (before a long run) when an output path cannot be written."""
    path, d = _target_dir(path, what)
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
