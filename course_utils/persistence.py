"""Generator files that are safe to open: a documented format with no code in it.

``Synthesizer.save(path)`` writes, and ``Synthesizer.load(path)`` reads, a file in this
format. Reading one runs no code from the file: there is no pickle, no joblib, no
``torch.load`` and no ``eval``; the file is data, and only the types on an explicit
list can come out of it.

The file
--------
A fixed 52-byte header, then the payload::

    offset  size  field
    0       8     magic bytes  b"\\x89CUGEN\\r\\n"
    8       2     format version, unsigned big-endian (this module writes and reads 1)
    10      2     flags, unsigned big-endian (0; anything else is refused)
    12      8     payload length in bytes, unsigned big-endian
    20      32    SHA-256 of the payload
    52      ...   payload

The payload is an uncompressed zip archive (open it with any zip tool, or
``numpy.load`` on the bytes after the header) holding:

- ``model.json``: one JSON document ``{"format": "course_utils generator",
  "version": 1, "libraries": {...}, "root": NODE}``. A NODE is ``null``, ``true``/
  ``false``, an integer, a string, a finite number, or an object whose ``"t"`` names
  its type: ``float`` (NaN and infinities), ``list``, ``tuple``, ``dict`` (items as
  ``[key, value]`` pairs), ``ref`` (the same object again, by its ``id``), ``array``
  (a numpy array stored in ``arrays/``), ``objarray`` (an array of plain values,
  inline), ``np`` (a numpy scalar), ``dtype``, ``catdtype``, ``extdtype``,
  ``timestamp``, ``timedelta``, ``nat``, ``na``, ``index``, ``rangeindex``,
  ``series``, ``frame``, ``rng`` (a numpy ``Generator``: its bit generator's state),
  ``object`` (one of the course's own classes, by name, and its attributes),
  and, from :mod:`course_utils.persistence_models`, ``sklearn``, ``sktree``,
  ``tensor``, ``module`` and ``device``.
- ``arrays/N.npy``: numpy arrays in the ``.npy`` format, of numeric, boolean,
  date/time or fixed-width text dtypes only (never ``object``).

The lists of types: every registered generator class (the registry of
:mod:`course_utils.generators.registry` names each by module and class, and only
modules inside ``course_utils`` count) and the course's helper classes in
:data:`course_utils.persistence_codec.COURSE_CLASSES` (a new helper class goes there;
the round-trip test of every registered generator fails until it does), numpy
and pandas types in :mod:`course_utils.persistence_tables`, scikit-learn estimators
and torch layers in :mod:`course_utils.persistence_models`.

What loading checks, in this order: the magic bytes, the format version (a file from
a newer course_utils is a clear error), the flags, the payload length and its
SHA-256, all before anything is parsed; then that every array member is stored
uncompressed and its declared size matches its bytes, and that every type name is on
a list (a name that is not is refused: a file can only pick entries of these fixed
lists, so no module is ever imported because a file names it). Scikit-learn trees
are checked node by node (children, features, value shapes) before they are built,
so even a file with a recomputed checksum cannot make a tree read outside its arrays.

What this guarantees: a changed byte anywhere in a file is a ``ValueError`` (never a
crash, never a generator that silently samples something else); opening a file runs
no code from it; ``save`` never reads more of the file it replaces than the header.
What it does not guarantee: that a file is what its sender says it is. A file from
someone else (with a recomputed checksum) can still hold a generator that does not
work, raises errors or gives poor rows, and, most importantly, a generator that
memorised its training patients: whether a model leaks the people it learnt from is
a privacy question, not a file-format one (lesson 04 measures it). Share samples
you have checked, not models, unless you have checked the model too.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import struct
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .persistence_codec import Decoder, Encoder
from .persistence_tables import ARRAY_KINDS

MAGIC = b"\x89CUGEN\r\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHHQ32s")
HEADER_SIZE = _HEADER.size
_JSON_NAME = "model.json"


# -- the container: header + zip of model.json and arrays/N.npy ----------------------------
def dumps(obj: Any) -> bytes:
    """The bytes of a file holding ``obj`` (``TypeError`` naming any unsupported attribute)."""
    enc = Encoder()
    root = enc.encode(obj, type(obj).__name__)
    doc = {"format": "course_utils generator", "version": FORMAT_VERSION,
           "libraries": _library_versions(), "root": root}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_zip_info(_JSON_NAME), json.dumps(doc, allow_nan=False, separators=(",", ":")))
        for i, arr in enumerate(enc.arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            zf.writestr(_zip_info(f"arrays/{i}.npy"), member.getvalue())
    return with_header(buf.getvalue())


def _zip_info(name: str) -> zipfile.ZipInfo:
    # a fixed date makes the same generator give the same bytes
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def _library_versions() -> dict[str, str]:
    import sklearn

    out = {"numpy": np.__version__, "pandas": pd.__version__, "scikit-learn": sklearn.__version__}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].__version__
    return out


def with_header(payload: bytes) -> bytes:
    """``payload`` behind a header of this format version (length and SHA-256 filled in)."""
    return _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(payload), hashlib.sha256(payload).digest()) + payload


def verified_payload(data: bytes, what: str = "the file") -> bytes:
    """The payload of a file's bytes, after checking magic, version, flags, length and SHA-256."""
    digest = _check_header(data[:HEADER_SIZE], len(data) - HEADER_SIZE, what)
    payload = data[HEADER_SIZE:]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError(f"{what} is damaged or was changed: its SHA-256 does not match the header")
    return payload


def _check_header(head: bytes, payload_size: int, what: str) -> bytes:
    """Check a header against the size of what follows it; returns the SHA-256 it records."""
    if len(head) < HEADER_SIZE or head[: len(MAGIC)] != MAGIC:
        raise ValueError(f"{what} is not a course_utils generator file (it does not start with the "
                         "generator file header)")
    _, version, flags, length, digest = _HEADER.unpack(head)
    if version > FORMAT_VERSION:
        raise ValueError(f"{what} was written in generator file format version {version}, newer than "
                         f"this course_utils reads ({FORMAT_VERSION}); update course_utils to open it")
    if version != FORMAT_VERSION or flags != 0:
        raise ValueError(f"{what} has an unknown format version {version} or flags {flags}")
    if payload_size != length:
        raise ValueError(f"{what} is {payload_size} bytes after the header, the header says {length}: "
                         "it was cut short or has bytes added")
    return digest


def loads(data: bytes, what: str = "the file") -> Any:
    """The object held by a file's bytes (``ValueError`` if the bytes are not a valid file)."""
    payload = verified_payload(data, what)
    try:
        doc, arrays = _read_payload(payload)
        if doc.get("format") != "course_utils generator" or doc.get("version") != FORMAT_VERSION:
            raise ValueError("unknown document format")
        return Decoder(arrays).decode(doc.get("root"))
    except Exception as err:  # whatever a damaged or crafted payload raises, the caller sees one kind
        raise ValueError(f"{what} is not a valid generator file: {err}") from None


def _read_payload(payload: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names) or _JSON_NAME not in names:
            raise ValueError("zip members are missing or repeated")
        arrays = {}
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(payload):
                raise ValueError(f"member {info.filename!r} is compressed or too large")
            if info.filename == _JSON_NAME:
                doc = json.loads(zf.read(info).decode("utf-8"), parse_constant=_no_constant)
            elif re.fullmatch(r"arrays/\d+\.npy", info.filename):
                arrays[info.filename] = _read_npy(zf.read(info), info.filename)
            else:
                raise ValueError(f"unexpected member {info.filename!r}")
    if type(doc) is not dict:
        raise ValueError("model.json is not an object")
    return doc, arrays


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in model.json")


def _read_npy(raw: bytes, name: str) -> np.ndarray:
    """An array from ``.npy`` bytes, refusing object and structured dtypes and size mismatches."""
    fh = io.BytesIO(raw)
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"{name}: unsupported .npy version {version}")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
            or dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"{name}: dtype {dtype} is not allowed")
    count = math.prod(shape)
    data = raw[fh.tell():]
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"{name}: {len(data)} bytes for shape {shape} of {dtype}")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).T.copy() if fortran else arr.reshape(shape).copy()


# -- files -----------------------------------------------------------------------------------
def is_generator_file(path: str | Path) -> bool:
    """Whether ``path`` starts with this format's magic bytes (reads the header only)."""
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def write_file(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` to ``path`` atomically (a temporary file in the same folder, then a rename).

    An existing file at ``path`` is replaced only if it is empty or a generator file
    (judged by its first bytes only); anything else gives ``FileExistsError``. The
    new file keeps the permissions of the file it replaces, else it is readable by
    its owner only (a generator holds what it learnt from patients).
    """
    path = Path(path)
    data = dumps(obj)
    mode = 0o600
    if os.path.lexists(path):
        if not path.is_file():
            raise FileExistsError(f"{path} exists and is not a regular file; choose another path")
        if path.stat().st_size > 0 and not is_generator_file(path):
            raise FileExistsError(f"{path} exists and is not a saved generator; choose another path")
        mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_file(path: str | Path) -> Any:
    """The object held by the file at ``path`` (``ValueError`` if it is not a valid, intact file)."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER_SIZE)
        # the header is checked before the rest is read: a large file of another kind is not read
        _check_header(head, os.fstat(fh.fileno()).st_size - HEADER_SIZE, str(path))
        data = head + fh.read()
    return loads(data, what=str(path))
