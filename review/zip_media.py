"""Zipping a packet folder's files, in this process or as a separate one (`python -I -S zip_media.py ...`).

The packet's zip takes its media (hundreds of megabytes: copied and CRC-32'd) while the page renders. On a
thread that overlap is lost to the GIL: the zipping thread gives the GIL up at every read, write and CRC and
then waits for the renderer's switch interval to get it back, thousands of times, so the two run mostly one
after the other. Run as a script, this module zips a folder's media in a process of its own: standard library
only, started without site (a few hundredths of a second), it writes a complete zip of the media that the
builder then opens in append mode for the page and its JSON (see `review.writing.ZipWriter`).

    python -I -S zip_media.py TARGET FOLDER ARC_ROOT SUB

zips every file under FOLDER/SUB (sorted by name) into TARGET as ARC_ROOT/SUB/...; exit status 0 when the zip
is complete, otherwise 1 with errno, reason and file (tab-separated) as stderr's last line.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

_COMPRESSIBLE = {".html", ".css", ".js", ".json", ".txt"}
_BUFFER = 1024 * 1024


def add_files(archive: zipfile.ZipFile, folder: Path, arc_root: str, names: list[str]) -> None:
    """Add `folder/<name>` for each name as `arc_root/<name>`: text deflated, media stored (already compressed)."""
    for rel in names:
        path = folder / rel
        info = zipfile.ZipInfo.from_file(path, f"{arc_root}/{rel}", strict_timestamps=False)
        # Media is already compressed; deflating it only costs time.
        stored = path.suffix.lower() not in _COMPRESSIBLE
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        with open(path, "rb") as src, archive.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, _BUFFER)


def files_under(folder: Path, sub: str = "") -> list[str]:
    """Relative POSIX names of the files under `folder/sub`, sorted (os.walk: one stat-free scan a folder)."""
    names: list[str] = []
    for dirpath, _dirs, files in os.walk(folder / sub if sub else folder):
        base = Path(dirpath).relative_to(folder).as_posix()
        names.extend(name if base == "." else f"{base}/{name}" for name in files)
    return sorted(names)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: zip_media.py TARGET FOLDER ARC_ROOT SUB", file=sys.stderr)
        return 2
    target, folder, arc_root, sub = Path(argv[0]), Path(argv[1]), argv[2], argv[3]
    try:
        with zipfile.ZipFile(target, "w", strict_timestamps=False) as archive:
            add_files(archive, folder, arc_root, files_under(folder, sub))
    except OSError as exc:  # told to the builder as errno, reason and file, one line
        reason = " ".join(str(exc.strerror or exc).split())
        print(f"{exc.errno or 0}\t{reason}\t{exc.filename or ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
