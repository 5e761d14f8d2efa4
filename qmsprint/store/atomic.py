"""The one atomic writer: new folders and single files appear whole or not at all.

Folders (:func:`write_new_folder`, :func:`create_folder`) are filled in a hidden temporary folder
beside the target and renamed into place; an existing folder is never overwritten. Files
(:func:`write_file_atomic`, :func:`write_files_atomic`) are written to hidden temporary files in
the target's folder and then moved into place (``os.replace``, or a hard link that fails on an
existing file when overwriting is not allowed). Any failure, ``KeyboardInterrupt`` included,
removes what was staged: no half-written file or folder is ever left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from qmsprint.errors import BundleError

T = TypeVar("T")
Content = bytes | str | Callable[[Path], object]
"""What a file holds: bytes, text (written as UTF-8) or a function that writes the file at the path it is given."""


def unique_target(parent: Path, base: str) -> Path:
    """``parent/base``, or ``parent/base-2``, ``-3`` ... when taken."""
    target = parent / base
    k = 2
    while target.exists():
        target = parent / f"{base}-{k}"
        k += 1
    return target


def create_folder(
    out_dir: str | Path,
    write: Callable[[Path], T],
    what: str,
    *,
    number_if_taken: bool = False,
) -> tuple[Path, T]:
    """Create the new folder ``out_dir`` holding what ``write(folder)`` writes, atomically.

    Parameters
    ----------
    out_dir
        The folder to create.
    write
        Fills the hidden temporary folder it is given; its return value is passed back.
    what
        What such folders hold, for messages ("runs", "diagnoses", ...).
    number_if_taken
        When ``out_dir`` exists, create ``<out_dir>-2``, ``-3`` ... instead (the name is chosen
        when the folder is complete) rather than refusing.

    Returns
    -------
    (folder, value)
        The folder created and what ``write`` returned.

    Raises
    ------
    BundleError
        If ``out_dir`` exists (without ``number_if_taken``) or an ``OSError`` occurs; nothing is left behind.

    """
    out = Path(out_dir)
    if out.exists() and not number_if_taken:
        raise BundleError(f"{out} already exists; choose a new folder ({what} are never overwritten)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as err:
        raise BundleError(f"cannot create a folder for {what} under {out.parent}: {err}") from None
    try:
        value = write(tmp)
        target = unique_target(out.parent, out.name) if number_if_taken else out
        os.rename(tmp, target)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"could not create {out}: {err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, value


def write_new_folder(out_dir: str | Path, write: Callable[[Path], list[str]], what: str) -> list[Path]:
    """Create the new folder ``out_dir`` holding the files ``write(folder)`` writes, atomically.

    ``write`` fills a hidden temporary folder beside ``out_dir`` and returns the names it wrote;
    the folder is then renamed into place. On any failure the temporary folder is removed and
    nothing is left behind.

    Returns
    -------
    list of Path
        The files written (``out_dir / name`` for each name ``write`` returned).

    Raises
    ------
    BundleError
        If ``out_dir`` already exists (``what`` are never overwritten) or cannot be written.

    """
    folder, names = create_folder(out_dir, write, what)
    return [folder / n for n in names]


def _put(content: Content, path: Path) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        content(path)


def write_files_atomic(files: Mapping[str | Path, Content], *, overwrite: bool = True) -> list[Path]:
    """Write several files so that none appears until all are written.

    Every file is first written to a hidden temporary file in its own folder (folders are
    created as needed); only then are they moved into place, in the given order.

    Parameters
    ----------
    files
        Path -> content: bytes, text (UTF-8) or a function writing the file at the path it is given.
    overwrite
        Replace existing files (``os.replace``). With ``False`` an existing file is never
        touched: a ``FileExistsError`` is raised and the files already moved into place by this
        call are removed again.

    Returns
    -------
    list of Path
        The files written, in the given order.

    Raises
    ------
    OSError
        Whatever the file system raised; no temporary file is left behind.

    """
    targets = [Path(p) for p in files]
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for target, content in zip(targets, files.values(), strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=target.parent)
            os.close(fd)
            staged.append((Path(name), target))
            _put(content, Path(name))
        for tmp, target in staged:
            if overwrite:
                os.replace(tmp, target)
            else:
                os.link(tmp, target)  # fails if the file exists (or appeared meanwhile)
                tmp.unlink()
            placed.append(target)
    except BaseException:
        if not overwrite:
            for p in placed:
                p.unlink(missing_ok=True)
        raise
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return targets


def write_file_atomic(path: str | Path, content: Content, *, overwrite: bool = True) -> Path:
    """Write one file atomically: a hidden temporary file in the same folder, then moved into place.

    ``content`` is bytes, text (UTF-8) or a function writing the file at the path it is given.
    With ``overwrite=False`` an existing file is never touched (``FileExistsError``).

    Raises
    ------
    OSError
        Whatever the file system raised; no temporary or half-written file is left behind.

    """
    return write_files_atomic({path: content}, overwrite=overwrite)[0]
