"""Writing a packet so that nothing half-written is ever visible: a lock per film, a build folder swapped in
whole, a zip and a hosted page written under temporary names and renamed, and the remains of a crash removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_COMPRESSIBLE = {".html", ".css", ".js", ".json", ".txt"}


@dataclass(frozen=True)
class BuildPaths:
    """Where one build of a film's packet goes: final names and the temporary ones written first."""

    out_root: Path
    film_id: str
    token: str

    @classmethod
    def new(cls, out_root: Path, film_id: str) -> BuildPaths:
        return cls(out_root, film_id, uuid.uuid4().hex[:8])

    @property
    def final(self) -> Path:
        return self.out_root / self.film_id

    @property
    def zip(self) -> Path:
        return self.out_root / f"{self.film_id}.zip"

    @property
    def hosted(self) -> Path:
        return self.out_root / f"{self.film_id}.hosted.html"

    @property
    def build(self) -> Path:
        return self.out_root / f".{self.film_id}.build-{self.token}"

    @property
    def zip_tmp(self) -> Path:
        return self.out_root / f".{self.film_id}.zip.tmp-{self.token}"

    @property
    def hosted_tmp(self) -> Path:
        return self.out_root / f".{self.film_id}.hosted.tmp-{self.token}"

    def discard(self) -> None:
        """Remove what this build wrote under temporary names."""
        shutil.rmtree(self.build, ignore_errors=True)
        self.zip_tmp.unlink(missing_ok=True)
        self.hosted_tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def build_lock(out_root: Path, film_id: str) -> Iterator[None]:
    """Serialise builds of one film's packet (two flows may ask at once)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: builds still never expose a half-written folder
        yield
        return
    with open(out_root / f".{film_id}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_in(build: Path, final: Path) -> None:
    """Make `build` the packet at `final`; the old packet is removed only once the new one is in place."""
    if not final.exists():
        os.rename(build, final)
        return
    if _exchange(build, final):
        shutil.rmtree(build)  # now holds the previous packet
        return
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(final, old)
    os.rename(build, final)
    shutil.rmtree(old)


def write_zip(folder: Path, arc_root: str, target: Path) -> None:
    """Zip `folder` as `arc_root/…`, deflating text and storing media (already compressed)."""
    with zipfile.ZipFile(target, "w", strict_timestamps=False) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo.from_file(path, f"{arc_root}/{rel}", strict_timestamps=False)
            # Media is already compressed; deflating it only costs time.
            info.compress_type = (
                zipfile.ZIP_DEFLATED if path.suffix.lower() in _COMPRESSIBLE else zipfile.ZIP_STORED
            )
            with open(path, "rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)


def remove_leftovers(out_root: Path, film_id: str) -> None:
    """Remove the temporary names of builds that crashed (call under the build lock, so none is running)."""
    patterns = (f".{film_id}.build-*", f".{film_id}.old-*", f".{film_id}.zip.tmp-*", f".{film_id}.hosted.tmp-*")
    for pattern in patterns:
        for leftover in out_root.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
