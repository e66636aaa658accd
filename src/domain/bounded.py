"""The eviction the process's memos share: insertion order, the oldest tenth at once."""

from __future__ import annotations

from typing import TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


def remember_bounded(entries: dict[Key, Value], key: Key, value: Value, max_entries: int) -> None:
    """`entries[key] = value`, keeping at most `max_entries` (none when it is 0 or less).

    When full, the oldest tenth (by insertion) goes at once: amortised O(1), and what a memo
    forgets only costs the work it saved, once. An LRU would reorder the dict on every hit."""
    if max_entries <= 0:
        return
    if len(entries) >= max_entries:
        for stale in list(entries)[: max(1, max_entries // 10)]:
            del entries[stale]
    entries[key] = value
