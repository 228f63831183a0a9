"""Which body areas overlap: an area overlaps itself, the areas that hold it (the face holds the
lips) and the areas it holds, at any depth. Two parts of the face (the lips, the eyes) do not
overlap each other.

The hierarchy is data (BodyArea.parent, edited in the admin) and small: `area_tree()` reads it in
one query, and screening and the booking rule ask the tree in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import BodyArea


@dataclass
class AreaTree:
    parent: dict[int, int | None]
    _overlapping: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)

    def holders(self, area_id: int) -> list[int]:
        """The areas that hold `area_id`, nearest first (a loop in bad data ends the walk)."""
        found: list[int] = []
        holder = self.parent.get(area_id)
        while holder is not None and holder != area_id and holder not in found:
            found.append(holder)
            holder = self.parent.get(holder)
        return found

    def overlapping(self, area_id: int) -> frozenset[int]:
        """`area_id`, every area holding it and every area it holds."""
        if area_id not in self._overlapping:
            held = {other for other in self.parent if area_id in self.holders(other)}
            self._overlapping[area_id] = frozenset({area_id, *self.holders(area_id), *held})
        return self._overlapping[area_id]

    def overlap(self, one: int, other: int) -> bool:
        return other in self.overlapping(one)


def area_tree() -> AreaTree:
    """The clinic's body areas and what holds each (one query)."""
    return AreaTree(parent=dict(BodyArea.objects.values_list("id", "parent_id")))
