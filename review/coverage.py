"""Which clips belong to which scene and shot, and whether a scene has what it needs for review."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from review.records import ClipRecord

if TYPE_CHECKING:
    from storyboard.models import Film, Scene


@dataclass
class SceneFootage:
    """The clips of one scene: by shot id (every shot of the scene has a key) and those naming no shot."""

    by_shot: dict[str, list[ClipRecord]] = field(default_factory=dict)
    other: list[ClipRecord] = field(default_factory=list)

    @property
    def clips(self) -> list[ClipRecord]:
        """Every clip of the scene, shot by shot in storyboard order, then the others."""
        out = [clip for clips in self.by_shot.values() for clip in clips]
        return out + self.other

    def covered_shots(self) -> list[str]:
        """Ids of the shots that have at least one clip with a finished proxy."""
        return [shot_id for shot_id, clips in self.by_shot.items() if any(c.has_done_proxy for c in clips)]

    def is_ready(self) -> bool:
        """The ready rule (see `Coverage`)."""
        if self.by_shot:
            return len(self.covered_shots()) == len(self.by_shot)
        return any(c.has_done_proxy for c in self.other)


@dataclass
class Coverage:
    """Clips sorted onto the storyboard.

    A clip belongs to the scene its `scene_id` names; a clip with no scene id but a `shot_id` of the film
    belongs to that shot's scene. Inside its scene it belongs to the shot its `shot_id` names when that shot
    is one of the scene's, otherwise to the scene's "other footage". A clip whose scene id is not in the
    film, or that names neither scene nor known shot, is unassigned.

    Ready rule: a scene is ready for review when each of its shots has at least one clip whose proxy is
    done (`proxy_state == "done"` with a proxy path). A scene with no shots at all is ready when it has at
    least one clip with a done proxy (never vacuously ready with no footage).
    """

    scenes: dict[str, SceneFootage]
    unassigned: list[ClipRecord]

    def of(self, scene: Scene) -> SceneFootage:
        """The footage of `scene`."""
        return self.scenes[scene.id]


def assign_clips(film: Film, clips: Iterable[ClipRecord]) -> Coverage:
    """Sort `clips` onto the film's scenes and shots, keeping the order the clips came in within a shot."""
    scenes: dict[str, SceneFootage] = {}
    scene_of_shot: dict[str, str] = {}
    for scene in film.scenes:
        scenes[scene.id] = SceneFootage(by_shot={shot.id: [] for shot in scene.shots})
        for shot in scene.shots:
            scene_of_shot[shot.id] = scene.id
    unassigned: list[ClipRecord] = []
    for clip in clips:
        scene_id = clip.scene_id
        if scene_id is None and clip.shot_id is not None:
            scene_id = scene_of_shot.get(clip.shot_id)
        footage = scenes.get(scene_id) if scene_id is not None else None
        if footage is None:
            unassigned.append(clip)
        elif clip.shot_id is not None and clip.shot_id in footage.by_shot:
            footage.by_shot[clip.shot_id].append(clip)
        else:
            footage.other.append(clip)
    return Coverage(scenes=scenes, unassigned=unassigned)
