"""Ingest: the verified offload of cards and folders into the library, and their record in the ledger.

Each source (a card or folder; a single file counts as its parent folder) goes to ``<library>/<folder name>/``
with its relative paths kept. Each file is copied by one read that feeds SHA-256, XXH128 and the copy, which
is flushed and read back before it gets its name (copying.py); the copy is then probed, and recorded as an
asset whose master is that library file, with the source path as a sighting. After each source, the card
folder gets a new ASC MHL generation listing the files hashed in this run (mhl.py).

Sources are only ever opened for reading. A file that cannot be probed or decoded is quarantined with a
reason a producer understands and the run goes on; files that are not media (sidecars, broken recordings)
are still copied, so the card can be formatted without losing them. A file the machine could not copy (a
full library disk, a source that vanished or cannot be read) is not bad media: it is listed as failed with
the OS's reason, nothing of it stays in the library or the ledger, and the next ingest tries it again. The
same bytes ingested twice are one asset: a duplicate is recorded as a sighting and not copied again.

New assets reach the ledger in batches (one transaction for up to BATCH_ROWS files or BATCH_SECONDS), after
the folders their copies were linked into are flushed; a file is reported ingested only once its batch is
written, so what the report lists is on the device and in the ledger. What was sighted before is read from the
ledger once per source, not once per file.

Running the same ingest again finishes what a stopped one (kill -9, power cut) left: abandoned partial copies
are deleted, a verified copy the ledger never heard of is recognised by its hash and kept, sources already
recorded are only re-read (to prove they are the same bytes), never copied again, and library files missing
from the card's ASC MHL history are hashed into the new generation.

With ``library=None`` (``--in-place``) the footage already sits on managed storage: it is hashed, probed and
recorded where it is, and no MHL is written (the source folder is not ours to write into).

Hidden files (names starting with ".") and ``ascmhl`` folders are not footage and are not counted.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from core.part_hashes import PartHashing

from .card import CardFolder
from .copying import AfterWrite, CopyOutcome, remove_abandoned_partials, verified_copy
from .errors import CopyFailed, CopyVerificationFailed, ProbeFailed, SourceChanged, SourceMissing, UnknownScene
from .hashing import Digest, digest_file, xxh128_file
from .ledger import Ledger
from .naming import card_name, display_path, display_text, library_relpath, nfc, openable_path
from .probe import ProbeResult, probe
from .report import DuplicateItem, FailedItem, IngestedItem, IngestReport, QuarantinedItem
from .sources import assign_scene, walk_sources
from .store import Asset, SourceSighting

log = logging.getLogger(__name__)

STAGING = ".docfilm-staging"  # folder of the library where copies are made before they are verified

__all__ = [
    "DuplicateItem", "FailedItem", "IngestReport", "IngestedItem", "QuarantinedItem", "assign_scene",
    "display_path", "ingest", "nfc", "walk_sources",
]


def ingest(
    sources: Sequence[Path],
    ledger: Ledger,
    *,
    scene_ids: set[str],
    shot_ids: set[str] | None = None,
    scene: str | None = None,
    on_file: Callable[[Path], None] | None = None,
    exclude: Sequence[Path] = (),
    library: Path | None = None,
    after_write: AfterWrite | None = None,
    film_rate: Fraction | None = None,
    part_hashing: PartHashing | None = None,
) -> IngestReport:
    """Offload every file under the sources into the library (or record it in place when `library` is None).

    Never raises for one file: bad media is quarantined, a copy the machine could not make is failed, each with
    its reason. `after_write` is passed to each verified copy (tests use it to damage a copy on disk before it
    is read back). Audio is counted, and its timecode given, at `film_rate`, the film's frame rate (see probe).
    `part_hashing` (masters that go to S3): the new masters it wants get their parts' SHA-256 recorded, taken in
    the read that hashes and copies them, for the upload to send.
    """
    if scene is not None and scene not in scene_ids:
        raise UnknownScene(f"--scene {scene}: no such scene in the film (known: {', '.join(sorted(scene_ids))})")
    roots = [Path(os.path.abspath(s)) for s in sources]
    for root in roots:
        if not root.exists():
            raise SourceMissing(f"{root}: no such file or folder")
    library = Path(os.path.abspath(library)) if library is not None else None
    skip = [*exclude, *([library] if library is not None else [])]
    run = _Run(ledger, library, scene_ids, shot_ids or set(), scene, after_write, film_rate, part_hashing)
    for root in roots:
        card = run.card(root)
        run.load_hints(root)
        for _root, path in walk_sources([root], skip):
            if on_file:
                on_file(path)
            run.one(root, path, card)
            run.flush(due=True)
        run.flush()
        if card is not None:
            run.finish(card)
    return run.report()


# New assets are written to the ledger in batches (one transaction), not one transaction a file: at most this
# many, held at most this long. Nothing is reported before its batch is written (see `_Run.flush`).
BATCH_ROWS = 200
BATCH_SECONDS = 2.0


@dataclass
class _Pending:
    """A new asset waiting for its batch: its rows and what to do once the ledger has answered."""

    asset: Asset
    sighting: SourceSighting
    shown: str
    library_path: str | None
    lib: Path | None
    card: CardFolder | None


def _master_ok(asset: Asset) -> bool:
    """The asset's master file is there with its recorded size (its bytes are `docfilm verify`'s business)."""
    return _path_ok(asset.path, asset.size)


def _path_ok(path: str, size: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size == size


class _Run:
    """One ingest run: its ledger, library, report and the card folders it touched."""

    def __init__(
        self,
        ledger: Ledger,
        library: Path | None,
        scene_ids: set[str],
        shot_ids: set[str],
        forced_scene: str | None,
        after_write: AfterWrite | None,
        film_rate: Fraction | None = None,
        part_hashing: PartHashing | None = None,
    ) -> None:
        self.ledger = ledger
        self.part_hashing = part_hashing
        self.library = library
        self.scene_ids = scene_ids
        self.shot_ids = shot_ids
        self.forced_scene = forced_scene
        self.after_write = after_write
        self.film_rate = film_rate
        self.ingested: list[IngestedItem] = []
        self.duplicates: list[DuplicateItem] = []
        self.quarantined: list[QuarantinedItem] = []
        self.failed: list[FailedItem] = []
        self.mhl: list[str] = []
        self._staging: Path | None = None
        self._held_seen = True  # whether the last keep check found the bytes in the ledger
        # The ledger's sightings under the source being ingested, read once (see `hint`).
        self._hints: dict[tuple[str, int, int], Asset] = {}
        self._hints_root = ""
        self._pending: list[_Pending] = []
        self._pending_since = 0.0
        self._pending_keys: set[str] = set()  # their sha256 and library paths, for `settle`

    def report(self) -> IngestReport:
        return IngestReport(tuple(self.ingested), tuple(self.duplicates), tuple(self.quarantined),
                            tuple(self.failed), tuple(self.mhl))

    def staging(self, dest: Path) -> Path | None:
        """Where partial copies are made: ``<library>/.docfilm-staging``, cleared of abandoned ones once a run.

        Card folders thus only ever hold verified files, and a card made only of duplicates gets no folder.
        None (the destination's own folder) when `dest` lies on another file system than the library.
        """
        assert self.library is not None
        if self._staging is None:
            staging = self.library / STAGING
            try:
                staging.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CopyFailed(f"cannot create the library folder {staging}: {exc.strerror or exc}") from exc
            remove_abandoned_partials(staging)
            self._staging = staging
        existing = dest.parent
        while not existing.exists():
            existing = existing.parent
        if os.stat(existing).st_dev != os.stat(self._staging).st_dev:
            return None
        return self._staging

    def flush(self, due: bool = False) -> None:
        """Write the new assets waiting for their batch (only when the batch is full or old enough, if `due`).

        The folders their copies were linked into are flushed first, so a master the ledger names has its name
        on the device; only then do they count as ingested (the report is made after the last flush).
        """
        if not self._pending:
            return
        if due and len(self._pending) < BATCH_ROWS and time.monotonic() - self._pending_since < BATCH_SECONDS:
            return
        pending, self._pending = self._pending, []
        self._pending_keys.clear()
        cards = {id(p.card): p.card for p in pending if p.card is not None}
        for card in cards.values():
            card.sync_folders()
        stored_rows = self.ledger.add_assets([(p.asset, p.sighting) for p in pending])
        for item, (stored, new) in zip(pending, stored_rows, strict=True):
            if new:
                self.ingested.append(IngestedItem.from_asset(stored, source=item.shown,
                                                             library_path=item.library_path))
                continue
            # Another ingest stored the same bytes between our lookup and our write.
            self.duplicates.append(DuplicateItem(item.shown, stored.asset_id, stored.path))
            if item.lib is not None and stored.path != str(item.lib):
                item.lib.unlink(missing_ok=True)  # its copy is a spare
                if item.card is not None:
                    item.card.forget(item.lib)

    def settle(self, key: str) -> None:
        """Write the waiting batch when it holds these bytes (sha256) or this library path, before the ledger
        is asked about them."""
        if key in self._pending_keys:
            self.flush()

    def load_hints(self, root: Path) -> None:
        """Read the ledger's sightings of every file under `root` at once, for `hint`."""
        self._hints_root = display_path(root).rstrip("/")
        self._hints = self.ledger.sightings_under(self._hints_root) if self.library is not None else {}

    def hint(self, shown: str, st: os.stat_result) -> Asset | None:
        """The asset last sighted at this source path with its size and mtime (a hint, not a proof).

        Looked up in the sightings read when the source began: one query a card, not one a file. A sighting
        another ingest records meanwhile is missed; then the file is copied and its keep check finds the
        bytes, as when the hint is wrong.
        """
        root = self._hints_root
        if root and (shown == root or shown.startswith(root + "/")):
            return self._hints.get((shown, st.st_size, st.st_mtime_ns))
        return self.ledger.asset_by_sighting(shown, st.st_size, st.st_mtime_ns)

    def card(self, root: Path) -> CardFolder | None:
        if self.library is None:
            return None
        return CardFolder(self.library / card_name(root), display_path(root))

    # ------------------------------------------------------------------ one file
    def one(self, root: Path, path: Path, card: CardFolder | None) -> None:
        raw = os.fsencode(path)
        shown = display_text(raw)
        try:
            st = path.stat()
        except OSError as exc:  # it vanished (a card pulled, a folder moved) since the walk listed it
            self._fail(shown, f"cannot read: {exc.strerror or exc}")
            return
        try:
            if card is None:
                self._in_place(root, path, shown, raw, st)
            else:
                self._offload(root, path, shown, raw, st, card)
        except CopyVerificationFailed as exc:
            # Its bytes read back differently on every attempt: a failing drive, cable or card a person must
            # look at, not a passing want of room.
            self._refuse(shown, raw, str(exc), None)
        except CopyFailed as exc:
            self._fail(shown, str(exc))
        except OSError as exc:
            self._fail(shown, f"cannot read: {exc.strerror or exc}")

    def _sighting(self, shown: str, raw: bytes, st: os.stat_result) -> SourceSighting:
        return SourceSighting(path=shown, path_bytes=raw, size=st.st_size, mtime_ns=st.st_mtime_ns)

    def _refuse(self, shown: str, raw: bytes, reason: str, sha256: str | None, library_path: Path | None = None
                ) -> None:
        self.ledger.quarantine(shown, raw, reason, sha256)
        self.quarantined.append(QuarantinedItem(shown, reason, str(library_path) if library_path else None))
        log.warning("quarantined %s: %s", shown, reason)

    def _fail(self, shown: str, reason: str) -> None:
        """A copy the machine could not make: reported, never recorded, so the next run tries it again."""
        self.failed.append(FailedItem(shown, reason))
        log.warning("not ingested %s: %s", shown, reason)

    def _scene(self, root: Path, path: Path) -> tuple[str | None, str | None]:
        scene, shot = assign_scene(root, path, self.scene_ids, self.shot_ids)
        if self.forced_scene is not None:
            scene = self.forced_scene
            shot = shot if shot and shot.startswith(self.forced_scene) else None
        return scene, shot

    def _in_place(self, root: Path, path: Path, shown: str, raw: bytes, st: os.stat_result) -> None:
        hashing = self.part_hashing
        digest = digest_file(path, hashing.part_size_for(st.st_size) if hashing is not None else None)
        self.settle(digest.sha256)
        known = self.ledger.asset_by_sha256(digest.sha256)
        if known is not None:
            repaired = None
            if not _master_ok(known):  # its master vanished: this file, on managed storage too, replaces it
                repaired = openable_path(path)
                self.ledger.set_asset_path(known.asset_id, repaired)
            self._duplicate_entry(known, shown, raw, st, repaired)
            return
        try:
            info = probe(path, self.film_rate)
        except ProbeFailed as exc:
            self._refuse(shown, raw, str(exc), digest.sha256)
            return
        self._record(root, path, shown, raw, st, digest, info, openable_path(path), library_path=None)

    def _offload(self, root: Path, path: Path, shown: str, raw: bytes, st: os.stat_result, card: CardFolder) -> None:
        target = card.root / library_relpath(root, path)
        digest: Digest | None = None
        lib: Path | None = None
        self._held_seen = True
        # A source recorded before, or a library file already at its place: prove what it is by reading the
        # source alone before copying anything.
        hint = self.hint(shown, st)
        owner = None
        unowned = False
        if os.path.lexists(target):
            self.settle(str(target))
            owner = self.ledger.asset_by_path(str(target))
            unowned = owner is None and target.is_file() and not target.is_symlink() \
                and target.stat().st_size == st.st_size
        if hint is not None or (owner is not None and owner.size == st.st_size) or unowned:
            digest = digest_file(path)
            self.settle(digest.sha256)
            known = self.ledger.asset_by_sha256(digest.sha256)
            if known is not None and (_master_ok(known) or not unowned):
                self._duplicate(known, root, path, shown, raw, st, target, card)
                return
            if unowned:
                back, size = xxh128_file(target, uncached=True)
                if (back, size) == (digest.xxh128, digest.size):
                    log.info("%s already holds these bytes (read back): not copied again", target)
                    lib = target
        if lib is None:
            outcome = self._copy(path, target, card, keep=self._not_held)
            if outcome.path is None:  # the bytes are an asset whose master is healthy
                known = self.ledger.asset_by_sha256(outcome.digest.sha256)
                assert known is not None
                self._duplicate_entry(known, shown, raw, st, None)
                return
            lib, digest = outcome.path, outcome.digest
        assert digest is not None
        # The copy's keep check just looked the bytes up; when it found nothing, a race with another ingest is
        # settled by add_asset below, so no second lookup is needed.
        known = self.ledger.asset_by_sha256(digest.sha256) if self._held_seen else None
        if known is not None and _master_ok(known):
            # Another ingest recorded the same bytes, with its own copy, while we copied: ours is a spare.
            if lib != Path(known.path):
                lib.unlink(missing_ok=True)
            self._duplicate_entry(known, shown, raw, st, None)
            return
        card.record(lib, digest.xxh128, digest.size)
        if known is not None:  # its master vanished: this verified copy is the master now
            self.ledger.set_asset_path(known.asset_id, str(lib))
            self._duplicate_entry(known, shown, raw, st, str(lib))
            return
        try:
            info = probe(lib, self.film_rate)
        except ProbeFailed as exc:
            self._refuse(shown, raw, str(exc), digest.sha256, library_path=lib)
            return
        self._record(root, path, shown, raw, st, digest, info, str(lib), library_path=str(lib), lib=lib, card=card)

    def _not_held(self, digest: Digest) -> bool:
        """Keep a fresh copy unless its bytes are an asset whose master is in place."""
        self.settle(digest.sha256)
        master = self.ledger.master_of(digest.sha256)
        self._held_seen = master is not None
        return master is None or not _path_ok(*master)

    def _copy(self, path: Path, target: Path, card: CardFolder, keep: Callable[[Digest], bool] | None) -> CopyOutcome:
        def taken(dest: Path, digest: Digest) -> Path | None:
            # The name is taken, typically by another ingest of the same card that got there first: when that
            # file holds the same bytes (read back now) it is our copy too; otherwise we take a name of our own.
            try:
                same_size = os.stat(dest).st_size == digest.size
            except FileNotFoundError:
                return dest  # it vanished meanwhile: try the name again
            if same_size and xxh128_file(dest, uncached=True) == (digest.xxh128, digest.size):
                return None
            return card.free_name(target)

        outcome = verified_copy(path, target, keep=keep, after_write=self.after_write,
                                staging=self.staging(target), on_taken=taken, sync_folder=False,
                                part_hashing=self.part_hashing)
        if outcome.path is not None:
            card.folders.add(outcome.path.parent)
        return outcome

    def _duplicate(
        self, known: Asset, root: Path, path: Path, shown: str, raw: bytes, st: os.stat_result, target: Path,
        card: CardFolder,
    ) -> None:
        repaired = None
        if not _master_ok(known):
            # The asset's master vanished from the library: this source gives it a verified copy again.
            outcome = self._copy(path, target, card, keep=None)
            assert outcome.path is not None
            if outcome.digest.sha256 != known.sha256:
                outcome.path.unlink(missing_ok=True)
                raise SourceChanged(f"{shown} changed between two reads")
            card.record(outcome.path, outcome.digest.xxh128, outcome.digest.size)
            self.ledger.set_asset_path(known.asset_id, str(outcome.path))
            repaired = str(outcome.path)
        self._duplicate_entry(known, shown, raw, st, repaired)

    def _duplicate_entry(self, known: Asset, shown: str, raw: bytes, st: os.stat_result, repaired: str | None
                         ) -> None:
        stored, _new = self.ledger.add_asset(known, self._sighting(shown, raw, st))
        if repaired:
            log.info("the master of %s was missing: %s is its new master", stored.asset_id, repaired)
        self.duplicates.append(DuplicateItem(shown, stored.asset_id, repaired or stored.path, repaired=bool(repaired)))

    def _record(
        self, root: Path, path: Path, shown: str, raw: bytes, st: os.stat_result, digest: Digest,
        info: ProbeResult, master: str, library_path: str | None, lib: Path | None = None,
        card: CardFolder | None = None,
    ) -> None:
        """Queue the new asset for the ledger's next batch (`flush`): reported ingested once written."""
        scene, shot = self._scene(root, path)
        asset = _asset_row(digest, master, nfc(Path(shown).name), raw, info, scene, shot)
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(_Pending(asset, self._sighting(shown, raw, st), shown, library_path, lib, card))
        self._pending_keys.update((asset.sha256, master))

    # ------------------------------------------------------------------ the card's ASC MHL generation
    def finish(self, card: CardFolder) -> None:
        """Write the waiting batch of new assets, flush the folders this run linked copies into, then write the
        card's new ASC MHL generation (CardFolder.write_generation).

        A copy's name is made durable once per folder and batch, not once per file, always before the batch's
        ledger rows are written (`flush`): a master the ledger names has its name on the device. A crash before
        a batch is written leaves verified copies the ledger never heard of: the next ingest of the card,
        still unformatted since this run never reported, recognises them by their hash and keeps them.
        """
        self.flush()
        card.sync_folders()
        if not card.root.is_dir():
            return
        path = card.write_generation(lambda: self.ledger.assets_under(str(card.root)))
        if path is not None:
            self.mhl.append(str(path))


def _asset_row(
    digest: Digest,
    master: str,
    name: str,
    raw: bytes,
    info: ProbeResult,
    scene: str | None,
    shot: str | None,
) -> Asset:
    return Asset(
        asset_id=digest.sha256[:16],
        sha256=digest.sha256,
        xxh128=digest.xxh128,
        size=digest.size,
        name=name,
        path=master,
        path_bytes=raw,
        kind=info.kind,
        container=info.container,
        video_codec=info.video_codec,
        width=info.width,
        height=info.height,
        fps_num=info.fps.numerator if info.fps else None,
        fps_den=info.fps.denominator if info.fps else None,
        duration_frames=info.duration_frames,
        rotation=info.rotation,
        field_order=info.field_order,
        vfr=info.vfr,
        audio_tracks=len(info.audio_tracks),
        start_timecode=info.start_timecode,
        scene_id=scene,
        shot_id=shot,
        probe=info.to_json(),
        part_size=digest.parts.part_size if digest.parts is not None else None,
        part_sha256=digest.parts.blob() if digest.parts is not None else None,
    )
