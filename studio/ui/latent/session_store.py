"""Where the artist left each model: the Latent Explorer's point, kept across restarts.

The explorer reopens the last model it loaded (its path is in the settings file); this file
keeps, per model sha256, the point shown last: class, seed, variety (truncation ψ) and the
latent vector, which is what the direction sliders read. It lives in
``data_dir()/explorer_session.json`` beside the bookmarks and is written atomically, a moment
after the artist stops moving things (the controller debounces it).

Whatever is in the file is only a suggestion: a state that does not parse, belongs to a model
that changed, or holds values out of range is dropped with a line in the log, and the model
opens at its usual first picture. Reading never raises.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from studio.engine.latent.state import LatentState
from studio.files.atomic import atomic_write_bytes
from studio.files.paths import data_dir
from studio.files.user_json import read_user_json, set_aside
from studio.spec.bounds import PSI, SEED

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "explorer_session.json"
FORMAT_VERSION = 1
KEPT_STATES = 24  # models remembered; the oldest is forgotten first
# A latent value this far from the prior's centre (±3 σ on the sliders) is not the artist's point.
MAX_LATENT_VALUE = 1000.0


def remembered_problem(state: LatentState) -> str | None:
    """Why a remembered ``state`` is out of range for the explorer's controls, or None.

    (Whether it fits its model, the latent size and the classes, is checked once the model
    has loaded, as for any point: :func:`studio.ui.latent.explorer_work.state_problem`.)
    """
    problem = PSI.problem(state.psi) or (SEED.problem(state.seed) if state.seed is not None else None)
    if problem is None and any(abs(v) > MAX_LATENT_VALUE for v in state.z):  # z is finite (LatentState)
        return "the latent vector holds values far out of range"
    return problem


class SessionStore:
    """The last point of each model (by sha256), most recent last."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / FILE_NAME

    def load(self) -> dict[str, LatentState]:
        """The remembered states; entries that cannot be used are skipped (never an exception).

        A file that cannot be read at all is moved aside (its name then ends in
        ``.unreadable-<time>.json``), so the next save does not overwrite it unseen.
        """
        found = read_user_json(self.path, expect=dict)
        if found.missing:
            return {}
        entries = found.value.get("states") if found.ok else None
        if not isinstance(entries, list):
            aside = set_aside(self.path)
            kept = f"kept as {aside.name}" if aside is not None else "left as it is"
            log.warning(
                "Ignoring the explorer's saved session (%s); the file was %s",
                found.problem or f"{self.path} holds no list of states",
                kept,
            )
            return {}
        states: dict[str, LatentState] = {}
        for entry in entries:
            try:
                state = LatentState.from_settings(entry)
            except (ValueError, TypeError, OverflowError) as exc:  # LatentStateError is a ValueError
                log.warning("Skipping a saved explorer point: %s", exc)
                continue
            problem = remembered_problem(state)
            if problem is not None:
                log.warning("Skipping the saved point of %s: %s", state.model_name or state.model_sha256[:12], problem)
                continue
            states.pop(state.model_sha256, None)
            states[state.model_sha256] = state
        return states

    def save(self, states: dict[str, LatentState]) -> None:
        """Write ``states`` (the newest :data:`KEPT_STATES`) atomically; raises SaveError."""
        kept = list(states.values())[-KEPT_STATES:]
        payload = {"version": FORMAT_VERSION, "states": [state.to_settings() for state in kept]}
        atomic_write_bytes(self.path, json.dumps(payload).encode("utf-8"))
