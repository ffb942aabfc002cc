"""Changing a landing folder in one step: what a promoted `make load` does to landing.

A delivery handed in with `make load` replaces files of one folder (``survey/<wave>/`` or
``admin/<year>/``) when its run is promoted. Done file by file, a kill between two files left the
folder half changed (a new data file beside the old code list). So the new folder is built beside
landing (``<landing>/../.landing-next/``): every entry that stays is carried over as what it is (a
regular file copied, a link or a pipe recreated, never followed), every new file is copied from its
archived copy (the bytes that were loaded), and then the two folders are exchanged in one step
(Linux renameat2 RENAME_EXCHANGE; a folder that did not exist yet is renamed into place). The old
folder, now beside landing, is removed. An observer sees the old folder or the new one, never half.

The changes are journalled first (``<warehouse dir>/.landing-changes.json``, outside landing) and
replayed by the next run when a kill interrupted them: every step can be done again, since the new
folder is always rebuilt from what landing holds and the archive. Where the exchange is not
available (another filesystem, an old kernel) the files are replaced one by one, each in one step,
and the journal still finishes the job after a kill.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

from ingest.durable import fsync_dir
from ingest.faults import checkpoint

JOURNAL = ".landing-changes.json"
SCRATCH = ".landing-next"
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def journal_path(warehouse_path: Path) -> Path:
    return Path(warehouse_path).parent / JOURNAL


def scratch_root(landing_dir: Path) -> Path:
    """Where new folders are built: beside landing (the same filesystem, outside what landing holds)."""
    return Path(landing_dir).resolve().parent / SCRATCH


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step; False if the system cannot (then nothing was changed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _carry_tree(src: Path, dst: Path, skip: set[str]) -> None:
    """Every entry of `src` (not in `skip`) recreated in `dst` as what it is, nothing followed: a regular
    file copied (with its mode and time), a link as a link to the same target, a pipe as a pipe, a
    device as the same device, a folder entry by entry. An entry that is a second name of a file (a
    hard link, refused as a delivery anyway) gets one more name, so it stays what it was without being
    read. A regular file gets no second name: a landing file must never look like a hard link."""
    dst.mkdir(parents=True, exist_ok=True)
    with os.scandir(src) as entries:
        for entry in entries:
            if entry.name in skip:
                continue
            st = entry.stat(follow_symlinks=False)
            target = dst / entry.name
            if stat.S_ISDIR(st.st_mode):
                _carry_tree(Path(entry.path), target, set())
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(entry.path), target)
            elif stat.S_ISFIFO(st.st_mode):
                os.mkfifo(target, stat.S_IMODE(st.st_mode))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                os.mknod(target, st.st_mode, st.st_rdev)
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                os.link(entry.path, target, follow_symlinks=False)
            elif stat.S_ISREG(st.st_mode):
                shutil.copy2(entry.path, target, follow_symlinks=False)
            # a socket is not something a delivery can be: not carried


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _place(source: str, target: Path) -> None:
    part = target.with_name(f".{target.name}.part")
    part.unlink(missing_ok=True)
    shutil.copyfile(source, part)
    os.chmod(part, 0o644)
    os.replace(part, target)


def _in_place(folder: Path, changes: list[dict]) -> None:
    """Without the exchange: each change on its own, each in one step (the journal finishes a kill)."""
    folder.mkdir(parents=True, exist_ok=True)
    for change in changes:
        if "remove" in change:
            (folder / change["remove"]).unlink(missing_ok=True)
        else:
            target = folder / change["name"]
            if not (target.is_file() and not target.is_symlink() and _sha256(target) == change["sha256"]):
                _place(change["place"], target)
        checkpoint("landing:change")


def change_folder(folder: Path, changes: list[dict], scratch: Path) -> None:
    """Apply `changes` ({"remove": name} / {"place": archived copy, "name": name, "sha256": ...}) to
    `folder` in one step (see the module's text)."""
    folder = Path(folder)
    new = Path(scratch) / hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    if new.exists() or new.is_symlink():
        shutil.rmtree(new)
    new.parent.mkdir(parents=True, exist_ok=True)
    touched = {c.get("remove") or c.get("name") for c in changes}
    exists = folder.is_dir() and not folder.is_symlink()
    if exists:
        _carry_tree(folder, new, touched)
    else:
        new.mkdir()
    for change in changes:
        if "place" in change:
            _place(change["place"], new / change["name"])
    fsync_dir(new)
    checkpoint("landing:change")
    if exists:
        if not _exchange(new, folder):
            shutil.rmtree(new)
            _in_place(folder, changes)
            return
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.rename(new, folder)
    fsync_dir(folder.parent)
    checkpoint("landing:exchanged")
    if new.exists():
        shutil.rmtree(new)  # the old folder


def group(changes: list[dict]) -> list[dict]:
    """[{"remove": path} | {"place": archived, "to": path, "sha256": ...}] -> one job per folder."""
    jobs: dict[str, list[dict]] = {}
    for c in changes:
        if "remove" in c:
            p = Path(c["remove"])
            jobs.setdefault(str(p.parent), []).append({"remove": p.name})
        else:
            p = Path(c["to"])
            jobs.setdefault(str(p.parent), []).append({"place": c["place"], "name": p.name, "sha256": c.get("sha256")})
    return [{"folder": f, "changes": cs} for f, cs in jobs.items()]


def apply(journal: Path, landing_dir: Path, changes: list[dict]) -> None:
    """Journal the changes, then apply them."""
    tmp = journal.with_suffix(".tmp")
    journal.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(group(changes), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, journal)
    replay(journal, landing_dir)


def replay(journal: Path, landing_dir: Path) -> bool:
    """Finish what a journal says (again, if it was done in part); False if there was none."""
    if not journal.exists():
        return False
    for job in json.loads(journal.read_text(encoding="utf-8")):
        change_folder(Path(job["folder"]), job["changes"], scratch_root(landing_dir))
    journal.unlink()
    scratch = scratch_root(landing_dir)
    if scratch.is_dir() and not any(scratch.iterdir()):
        scratch.rmdir()
    return True
