"""Writing a packet so that nothing half-written is ever visible: a lock per film, a build folder swapped in
whole, a zip and a hosted page written under temporary names and renamed, and the remains of a crash removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import threading
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


def _add_files(archive: zipfile.ZipFile, folder: Path, arc_root: str, names: list[str]) -> None:
    for rel in names:
        path = folder / rel
        info = zipfile.ZipInfo.from_file(path, f"{arc_root}/{rel}", strict_timestamps=False)
        # Media is already compressed; deflating it only costs time.
        info.compress_type = zipfile.ZIP_DEFLATED if path.suffix.lower() in _COMPRESSIBLE else zipfile.ZIP_STORED
        with open(path, "rb") as src, archive.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)


def _files_under(folder: Path, sub: str = "") -> list[str]:
    """Relative POSIX names of the files under `folder/sub`, sorted (os.walk: one stat-free scan a folder)."""
    names: list[str] = []
    for dirpath, _dirs, files in os.walk(folder / sub if sub else folder):
        base = Path(dirpath).relative_to(folder).as_posix()
        names.extend(name if base == "." else f"{base}/{name}" for name in files)
    return sorted(names)


class ZipWriter:
    """The packet's zip, written in two parts: its media on a thread while the page is rendered, then the rest.

    Zipping copies every media byte and computes its CRC-32, both of which release the GIL, so on two cores the
    media part costs almost nothing beside the page's rendering. `finish` adds every file of `folder` not yet
    in the zip; the archive is complete only then (and written under a temporary name until swapped in).
    """

    def __init__(self, folder: Path, arc_root: str, target: Path) -> None:
        self.folder, self.arc_root = folder, arc_root
        self._archive = zipfile.ZipFile(target, "w", strict_timestamps=False)
        self._done: list[str] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start_media(self, sub: str = "media") -> None:
        names = _files_under(self.folder, sub)

        def work() -> None:
            try:
                _add_files(self._archive, self.folder, self.arc_root, names)
                self._done = names
            except BaseException as exc:  # re-raised by finish() in the building thread
                self._error = exc

        self._thread = threading.Thread(target=work, name="packet-zip", daemon=True)
        self._thread.start()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def finish(self) -> None:
        try:
            self._join()
            done = set(self._done)
            _add_files(self._archive, self.folder, self.arc_root,
                       [n for n in _files_under(self.folder) if n not in done])
        finally:
            self._archive.close()

    def abandon(self) -> None:
        """Stop using the zip after a failure elsewhere (its temporary file is removed by BuildPaths.discard)."""
        try:
            self._join()
        except BaseException:  # the build is failing already; that error is the one to report
            pass
        finally:
            self._archive.close()


def write_zip(folder: Path, arc_root: str, target: Path) -> None:
    """Zip `folder` as `arc_root/…`, deflating text and storing media (already compressed)."""
    writer = ZipWriter(folder, arc_root, target)
    writer.finish()


def remove_leftovers(out_root: Path, film_id: str) -> None:
    """Remove the temporary names of builds that crashed (call under the build lock, so none is running)."""
    patterns = (f".{film_id}.build-*", f".{film_id}.old-*", f".{film_id}.zip.tmp-*", f".{film_id}.hosted.tmp-*")
    for pattern in patterns:
        for leftover in out_root.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
