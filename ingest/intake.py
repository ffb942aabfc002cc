"""Taking a delivered file in: one read, one checksum, never through a link.

A landing folder is written by people and other programs, so an entry in it may be anything: a
symbolic link to any readable file on the machine, a second name (hard link) of a file elsewhere,
a named pipe that blocks whoever opens it, a device. `entry_problem` says what an entry is,
from `lstat` (the entry itself, never what it points to); only regular files of their own are
deliveries. The others are refused by name and quarantined (ingest.errors.NotAFile), never followed.

`take` then reads a delivered file exactly once: opened without following links, checked to be
the regular file it was (fstat on the open descriptor), its size against ingest/config/limits.yml,
copied while its SHA-256 is computed into ``<into>/<sha256>/<name>`` (written under a temporary
name, made read-only for its owner, moved into place). `into` is the archive (a real load) or a
private temporary folder (a dry run). The loader parses that copy, so the bytes parsed are the
bytes archived and hashed: a file replaced in landing meanwhile changes nothing.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from ingest.checksums import sha256_file  # noqa: F401 (re-exported)
from ingest.errors import IngestError, NotAFile, OverLimit
from ingest.durable import fsync_dir
from ingest.faults import checkpoint
from ingest.limits import check_file_size, limit
from ingest.staging import process_alive

CHUNK = 1 << 20
IN_MEMORY = 64 << 20  # a file up to this size is read into memory once; a bigger one is streamed to disk
ARCHIVE_FILE_MODE = stat.S_IRUSR  # 0400: the owner reads it, nobody writes it
ARCHIVE_DIR_MODE = stat.S_IRWXU   # 0700


class ArchiveError(Exception):
    pass


@dataclass(frozen=True)
class Taken:
    delivered: Path  # the file as delivered (its landing path, or the path given to `make load`)
    local: Path      # the copy that is parsed: the archived copy, or a private one (dry run)
    sha256: str
    size: int


def entry_problem(path: Path) -> str | None:
    """What a landing entry is if it is not a regular file of its own (None if it is one)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"a symbolic link (to {target!r})"
    if stat.S_ISFIFO(mode):
        return "a named pipe (fifo)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode) and st.st_nlink > 1:
        return (f"a hard link (one of {st.st_nlink} names of the same file; the others may lie outside the "
                "landing folder)")
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


def not_a_file(path: Path, problem: str) -> NotAFile:
    return NotAFile(path, f"{problem}: a delivery must be a regular file of its own in the landing folder; it was "
                    "not followed or read. Put a copy of the file itself there")


def entry_identity(path: Path, problem: str) -> str:
    """The identity of an entry that is not a file (it has no contents to hash): where it is and what
    it is (a link's target included), so the same entry is held, not reported again every run."""
    return hashlib.sha256(f"not a file\0{Path(path)}\0{problem}".encode("utf-8", "surrogateescape")).hexdigest()


def unsafe_entries(folder: Path, *, expect_folders: bool = False) -> list[tuple[Path, str]]:
    """Entries of `folder` that are not regular files of their own (hidden entries and Excel's lock
    files ~$x.xlsx are not deliveries and are not listed). With `expect_folders` (landing/survey,
    landing/admin), real folders are fine and files are not looked at."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return []
    out = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "~$")):
            continue
        problem = entry_problem(entry)
        if expect_folders:
            if problem == "a folder" or problem is None:
                continue  # folders are what is expected; stray files beside them are not deliveries
        elif problem is None:
            continue
        out.append((entry, problem))
    return out


def describe_given(path: Path) -> str | None:
    """Why a path given on the command line (FILE, CODEBOOK, WITH) cannot be read as a file, in words."""
    try:
        st = os.stat(path)  # an operator may name a link: it is followed to what it names
    except FileNotFoundError:
        return "no such file"
    except NotADirectoryError:
        return "no such file (a part of its path is not a folder)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(st.st_mode):
        return "is a named pipe (fifo), not a file"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "is a device, not a file"
    if stat.S_ISSOCK(st.st_mode):
        return "is a socket, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def copy_given(src: Path, dst: Path) -> None:
    """Copy a file named on the command line (FILE, CODEBOOK, WITH) into a staging folder: opened
    once (a link the operator named is followed), refused unless it is a regular file (a pipe would
    block the copy for ever), bounded by file.max_bytes."""
    fd, st = _open_regular(Path(src), follow=True)
    try:
        check_file_size(Path(src), st.st_size)
        with open(dst, "xb") as out:
            size, bound = 0, limit("file", "max_bytes")
            for chunk in iter(lambda: os.read(fd, CHUNK), b""):
                size += len(chunk)
                if size > bound:
                    raise OverLimit(src, f"the file grew past the limit of {bound} bytes while it was read "
                                    "(ingest/config/limits.yml, file.max_bytes)")
                out.write(chunk)
    finally:
        os.close(fd)


def _open_regular(path: Path, *, follow: bool) -> tuple[int, os.stat_result]:
    if not follow:  # what the entry is, before it is opened at all (checked again on the open descriptor)
        problem = entry_problem(path)
        if problem:
            raise not_a_file(path, problem)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise IngestError(path, "the file does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_a_file(path, entry_problem(path) or "a symbolic link") from None
        raise IngestError(path, f"the file cannot be opened: {exc.strerror}") from None
    st = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(st.st_mode):
        problem = "a folder"
    elif not stat.S_ISREG(st.st_mode):
        problem = entry_problem(path) or "not a regular file"
    elif st.st_nlink > 1 and not follow:
        problem = (f"a hard link (one of {st.st_nlink} names of the same file; the others may lie outside the "
                   "landing folder)")
    if problem:
        os.close(fd)
        raise not_a_file(path, problem)
    os.set_blocking(fd, True)
    return fd, st


def take(path: Path, into: Path, *, follow: bool = False) -> Taken:
    """Read `path` once into ``<into>/<sha256>/<name>`` (see the module's text) and return what was
    taken. Raises NotAFile for anything but a regular file of its own (`follow`: a link given on the
    command line is followed; landing entries never are), OverLimit for a file over file.max_bytes
    (checked before reading, and again while reading in case it grows), IngestError if it is gone."""
    path = Path(path)
    fd, st = _open_regular(path, follow=follow)
    into = Path(into)
    bound = limit("file", "max_bytes")
    h = hashlib.sha256()
    part, data, size = None, None, 0
    try:
        check_file_size(path, st.st_size)
        into.mkdir(parents=True, exist_ok=True)
        if st.st_size <= IN_MEMORY:  # most deliveries: read into memory, written only if not archived yet
            chunks = []
            while True:
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max(IN_MEMORY, st.st_size) * 2 or size > bound:
                    raise OverLimit(path, f"the file grew past {size} bytes while it was read (it had "
                                    f"{st.st_size}); the file was not parsed")
                chunks.append(chunk)
            data = b"".join(chunks)
            h.update(data)
        else:
            part = _new_part(into)
            out = os.open(part, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                while True:
                    chunk = os.read(fd, CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > bound:
                        raise OverLimit(path, f"the file grew past the limit of {bound} bytes while it was read "
                                        "(ingest/config/limits.yml, file.max_bytes); the file was not parsed")
                    h.update(chunk)
                    _write_all(out, chunk)
                os.fsync(out)
            finally:
                os.close(out)
    except BaseException:
        if part is not None:
            part.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    sha = h.hexdigest()
    target = into / sha / path.name
    try:
        if target.exists():
            if part is not None:
                part.unlink(missing_ok=True)
            if sha256_file(target) != sha:
                raise ArchiveError(f"archived copy {target} no longer matches its checksum {sha}: the archive was "
                                   "altered; restore it before loading")
            return Taken(path, target, sha, size)
        if part is None:
            part = _new_part(into)
            out = os.open(part, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                _write_all(out, data)
                os.fsync(out)
            finally:
                os.close(out)
        target.parent.mkdir(mode=ARCHIVE_DIR_MODE, parents=True, exist_ok=True)
        os.chmod(target.parent, ARCHIVE_DIR_MODE)
        os.chmod(part, ARCHIVE_FILE_MODE)
        checkpoint("archive:copied")
        os.replace(part, target)
        fsync_dir(target.parent)
    except BaseException:
        if part is not None:
            part.unlink(missing_ok=True)
        raise
    return Taken(path, target, sha, size)


def _new_part(into: Path) -> Path:
    part = into / f".take-{os.getpid()}-{uuid.uuid4().hex[:12]}.part"
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600))
    return part


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def clear_stale_parts(root: Path) -> list[Path]:
    """What a killed take left in the archive (`.take-<pid>-*.part` of a process that is gone, and a
    checksum folder it made but never filled): removed, so the archive holds only complete copies."""
    root = Path(root)
    removed = []
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        if entry.name.startswith(".take-") and entry.name.endswith(".part"):
            pid = entry.name.split("-")[1]
            if pid.isdigit() and (int(pid) == os.getpid() or process_alive(int(pid))):
                continue
            entry.unlink(missing_ok=True)
            removed.append(entry)
        elif entry.is_dir() and not entry.is_symlink() and len(entry.name) == 64:
            try:
                entry.rmdir()  # only if empty
                removed.append(entry)
            except OSError:
                pass
    return removed


__all__ = ["Taken", "take", "clear_stale_parts", "copy_given", "entry_problem", "entry_identity", "not_a_file", "unsafe_entries", "describe_given",
           "sha256_file", "ArchiveError", "ARCHIVE_FILE_MODE"]
