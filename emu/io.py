"""File input/output with clear errors and atomic writes (nothing partial is left)."""
from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

from .errors import UsageError


def load_npy(path, what: str = "input") -> np.ndarray:
    """Load a .npy file as a native-endian, C-contiguous array, or raise UsageError."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{what}: {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{what}: {path}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{what}: {path}: permission denied") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"{what}: {path}: not a readable .npy file ({e})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise UsageError(f"{what}: {path}: is an .npz archive, expected a single .npy array")
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != _native():
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def _native() -> str:
    return "<" if np.little_endian else ">"


def _atomic(path, write) -> None:
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise UsageError(f"output {path}: directory {d} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".fp8emu-", dir=d)
    except OSError as e:
        raise UsageError(f"output {path}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp's 0600 would survive the rename
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise UsageError(f"output {path}: cannot write ({e.strerror})") from None
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npy(path, arr) -> None:
    """Write arr to path atomically (temporary file in the same folder, then rename)."""
    _atomic(path, lambda fh: np.save(fh, np.asarray(arr), allow_pickle=False))


def save_bytes(path, data: bytes) -> None:
    _atomic(path, lambda fh: fh.write(data))


def save_text(path, text: str) -> None:
    _atomic(path, lambda fh: fh.write(text.encode()))


def check_writable(path, what: str = "output") -> None:
    """Fail early (before a long run) when an output path cannot be written."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise UsageError(f"{what} {path}: directory {d} does not exist")
    if not os.access(d, os.W_OK):
        raise UsageError(f"{what} {path}: directory {d} is not writable")
    if os.path.isdir(path):
        raise UsageError(f"{what} {path}: is a directory")
