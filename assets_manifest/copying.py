"""The verified copy into the library.

One read of the source feeds SHA-256, XXH128 and the copy, written under a temporary name in a staging
folder on the same file system (by default the destination folder). The copy is flushed to the device
(fsync) and read back from the device (O_DIRECT, or after dropping its cached pages where the file system has
no O_DIRECT; a large copy is written with O_DIRECT too, see _LibrarySink); only when that read gives the
XXH128 of the source read does it get its final name (a hard link, so an existing file is never replaced)
and the folder is flushed (here, or by the caller once for all its copies there: `sync_folder`). A mismatch is
tried once more, then reported.

A copy cut short at any point (kill -9, power loss) leaves at most a hidden ``.<random>.docfilm-partial``
file, never a file under a final name: the process holds an exclusive flock on its partial file while it
works, so the next run knows a partial whose lock it can take is abandoned, and deletes it.

The source is opened read-only (and without updating its access time where the OS allows); it is never
moved, renamed, rewritten or deleted. The copy keeps the source's modification time.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.part_hashes import PartHashing

from .errors import CopyFailed, CopyVerificationFailed, DestinationTaken, SourceChanged
from .hashing import CHUNK, DIRECT_ALIGN, Digest, digest_stream, open_source, xxh128_file

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".docfilm-partial"
MASTER_MODE = 0o444  # masters are never edited in place

# Called with (partial file, attempt) once the copy is written and flushed, before it is read back. Tests use
# it to damage the copy on disk the way a failing drive or cable would.
AfterWrite = Callable[[Path, int], None]
# Called with (the name that is taken, the digest of the copy) when the final name already exists: returns
# None when that file is the same bytes (it is then the outcome), else another name to try.
OnTaken = Callable[[Path, Digest], Path | None]


@dataclass(frozen=True)
class CopyOutcome:
    """A verified copy (`path` None when `keep` declined it), the source's digest and the attempts it took."""

    path: Path | None
    digest: Digest
    attempts: int


class _LibrarySink:
    """Writes to the partial file, naming the library (not the source) when the write fails.

    A large file is written with O_DIRECT where the file system takes it: each chunk goes to the device while
    the next is read and hashed, so no dirty pages pile up for the fsync before the read-back, and no CPU copies
    them into the page cache. The unaligned tail (and everything, where O_DIRECT is refused) is written
    through the page cache and flushed by that fsync. (Asking for writeback of cached pages every 32 MB with
    POSIX_FADV_DONTNEED instead made the copy wait on the device while the source was read, 1.6–1.8 times the
    time of copying without it.)
    """

    def __init__(self, fd: int, folder: Path, *, direct: bool = False) -> None:
        self.fd = fd
        self.folder = folder
        self.direct = direct and _set_direct(fd, True)

    def write(self, data: memoryview) -> int:
        try:
            if self.direct:
                whole = len(data) - len(data) % DIRECT_ALIGN
                if whole:
                    try:
                        return os.write(self.fd, data[:whole])
                    except OSError as exc:
                        if exc.errno != errno.EINVAL:  # refused for its alignment: write through the cache
                            raise
                self.direct = False
                _set_direct(self.fd, False)
            return os.write(self.fd, data)
        except OSError as exc:
            raise CopyFailed(f"cannot write to the library folder {self.folder}: {exc.strerror}") from exc


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for an open file; False where the OS or the file system has none."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        return False
    return True


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries, so a new name survives a power cut."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems (and Windows shares) refuse fsync on a folder
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def remove_abandoned_partials(folder: Path) -> int:
    """Delete the partial files in a folder that no live process holds; return how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.endswith(PARTIAL_SUFFIX) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # another ingest is writing it right now
            continue
        try:
            os.unlink(entry.path)
            removed += 1
            log.info("removed an abandoned partial copy %s", entry.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    return removed


def _link_no_clobber(tmp: Path, dest: Path) -> None:
    try:
        os.link(tmp, dest)
    except FileExistsError as exc:
        raise DestinationTaken(f"{dest} appeared while it was being copied") from exc
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        # exFAT and FAT have no hard links: check and rename (a race here only matters on such volumes).
        if os.path.lexists(dest):
            raise DestinationTaken(f"{dest} appeared while it was being copied") from exc
        os.rename(tmp, dest)
        return
    os.unlink(tmp)


def verified_copy(
    src: Path,
    dest: Path,
    *,
    attempts: int = 2,
    keep: Callable[[Digest], bool] | None = None,
    after_write: AfterWrite | None = None,
    staging: Path | None = None,
    on_taken: OnTaken | None = None,
    sync_folder: bool = True,
    part_hashing: PartHashing | None = None,
) -> CopyOutcome:
    """Copy `src` to `dest` (which must not exist yet), verified as the module docstring says.

    With `part_hashing`, a source it wants (one that will go to S3 in parts) also gets its parts' SHA-256 from the
    same read (the outcome's `digest.parts`).

    With `sync_folder` False the caller flushes `dest`'s folder itself (fsync_dir) before it reports the copy
    as made: an ingest does it once per folder rather than once per file.

    The partial copy is made in `staging` (default: `dest`'s folder), which must be on `dest`'s file system;
    `dest`'s folder is only created once the copy is verified and kept. When `dest` exists by then,
    `on_taken` decides (see OnTaken); without it DestinationTaken is raised.

    `keep`, asked once the copy is verified, may decline it (e.g. the bytes turn out to be a known asset):
    the partial is then deleted and the outcome has no path. Raises CopyVerificationFailed after `attempts`
    mismatches, SourceChanged when the source keeps changing under the copy, DestinationTaken when another
    process created `dest` meanwhile, CopyFailed for unreadable sources or unwritable libraries.
    """
    folder = staging or dest.parent
    failure: CopyFailed | None = None
    for attempt in range(1, attempts + 1):
        try:
            return _copy_once(src, dest, folder, attempt, keep, after_write, on_taken, sync_folder, part_hashing)
        except (CopyVerificationFailed, SourceChanged) as exc:
            failure = exc
            log.warning("%s (attempt %d of %d)", exc, attempt, attempts)
        except CopyFailed:
            raise
        except OSError as exc:
            where = exc.filename or folder
            raise CopyFailed(f"cannot copy {src} to {where}: {exc.strerror or exc}") from exc
    assert failure is not None
    raise failure


def _locked_partial(folder: Path) -> tuple[Path, int]:
    """A new partial file in `folder`, open for writing and under our exclusive flock.

    The lock is held until the file is closed; the kernel drops it if we are killed, which tells the next run
    the partial is abandoned. Between creating the file and locking it, another ingest's cleanup may take it
    for abandoned and delete it: once locked, a file with no name left is given up for a new one.
    """
    while True:
        tmp = folder / f".{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink > 0:
                return tmp, fd
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        log.debug("partial %s was removed as abandoned before it was locked; making another", tmp)


def _copy_once(
    src: Path,
    dest: Path,
    folder: Path,
    attempt: int,
    keep: Callable[[Digest], bool] | None,
    after_write: AfterWrite | None,
    on_taken: OnTaken | None,
    sync_folder: bool = True,
    part_hashing: PartHashing | None = None,
) -> CopyOutcome:
    folder.mkdir(parents=True, exist_ok=True)
    tmp, fd = _locked_partial(folder)
    try:
        try:
            source = open_source(src)
        except OSError as exc:
            raise CopyFailed(f"cannot read: {exc.strerror or exc}") from exc
        with source:
            before = os.fstat(source.fileno())
            try:
                sink = _LibrarySink(fd, folder, direct=before.st_size >= CHUNK)
                part_size = part_hashing.part_size_for(before.st_size) if part_hashing is not None else None
                digest = digest_stream(source, sink, part_size)  # type: ignore[arg-type]
            except CopyFailed:
                raise
            except OSError as exc:
                raise CopyFailed(f"cannot read: {exc.strerror or exc}") from exc
            after = os.fstat(source.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or digest.size != after.st_size:
            raise SourceChanged(f"{src} changed while it was copied (it is still being written?)")
        os.utime(fd, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.fchmod(fd, MASTER_MODE)
        os.fsync(fd)
        if after_write is not None:
            after_write(tmp, attempt)
        back, size = xxh128_file(tmp, uncached=True)
        if (back, size) != (digest.xxh128, digest.size):
            raise CopyVerificationFailed(
                f"copy failed verification: {src} read as {digest.size} bytes xxh128 {digest.xxh128}, "
                f"its library copy read back as {size} bytes xxh128 {back}"
            )
        if keep is not None and not keep(digest):
            return CopyOutcome(None, digest, attempt)
        dest.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                _link_no_clobber(tmp, dest)
                break
            except DestinationTaken as exc:
                exc.digest = digest
                if on_taken is None:
                    raise
                other = on_taken(dest, digest)
                if other is None:
                    return CopyOutcome(dest, digest, attempt)
                dest = other
        if sync_folder:
            fsync_dir(dest.parent)
        return CopyOutcome(dest, digest, attempt)
    finally:
        tmp.unlink(missing_ok=True)  # still under our lock: nobody may take it for abandoned meanwhile
        os.close(fd)
