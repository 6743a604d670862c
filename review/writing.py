"""Writing a packet so that nothing half-written is ever visible: a lock per film, a build folder swapped in
whole, a zip and a hosted page written under temporary names and renamed, and the remains of a crash removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from review import zip_media
from review.zip_media import add_files, files_under


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


_ZIP_MEDIA_SCRIPT = Path(zip_media.__file__).resolve()


class ZipWriter:
    """The packet's zip, written in two parts: its media while the page is rendered, then the rest.

    The media part is a complete zip written by `review/zip_media.py` run as a process of its own (see there
    why not a thread: the GIL); where no process can be started it is written on a thread instead. `finish`
    waits for it, opens it in append mode and adds every file of `folder` not yet in it; the archive is
    complete only then (and written under a temporary name until swapped in).
    """

    def __init__(self, folder: Path, arc_root: str, target: Path) -> None:
        self.folder, self.arc_root, self.target = folder, arc_root, target
        self._process: subprocess.Popen[bytes] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    def start_media(self, sub: str = "media") -> None:
        self._started = True
        if sys.executable:
            command = [sys.executable, "-I", "-S", str(_ZIP_MEDIA_SCRIPT), str(self.target), str(self.folder),
                       self.arc_root, sub]
            try:
                self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE)
                return
            except OSError:
                pass  # no interpreter to start (embedded, frozen): the thread below does the same
        names = files_under(self.folder, sub)

        def work() -> None:
            try:
                with zipfile.ZipFile(self.target, "w", strict_timestamps=False) as archive:
                    add_files(archive, self.folder, self.arc_root, names)
            except BaseException as exc:  # re-raised by finish() in the building thread
                self._error = exc

        self._thread = threading.Thread(target=work, name="packet-zip", daemon=True)
        self._thread.start()

    def _join(self) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            _out, err = process.communicate()
            if process.returncode != 0:
                raise _child_error(process.returncode, err, self.target)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def finish(self) -> None:
        self._join()
        # Append to the media part (a complete zip whose central directory is rewritten after the new files).
        opened = (zipfile.ZipFile(self.target, "a", strict_timestamps=False) if self._started
                  else zipfile.ZipFile(self.target, "w", strict_timestamps=False))
        with opened as archive:
            done = set(archive.namelist())
            add_files(archive, self.folder, self.arc_root,
                      [n for n in files_under(self.folder) if f"{self.arc_root}/{n}" not in done])

    def abandon(self) -> None:
        """Stop the zip after a failure elsewhere (its temporary file is removed by BuildPaths.discard)."""
        if self._process is not None:
            self._process.kill()
        with contextlib.suppress(BaseException):  # the build is failing already; that error is the one to report
            self._join()


def _child_error(returncode: int, stderr: bytes, target: Path) -> OSError:
    """The media zip process's failure as the OSError it reported ("errno<TAB>reason<TAB>file")."""
    text = stderr.decode("utf-8", "replace").strip()
    parts = text.splitlines()[-1].split("\t") if text else []
    if len(parts) == 3 and parts[0].isdigit():
        return OSError(int(parts[0]), parts[1], parts[2] or None)
    return OSError(errno.EIO, f"zipping the media failed (exit status {returncode}): {text or 'no message'}",
                   str(target))


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
