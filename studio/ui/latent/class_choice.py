"""The explorer's class list for a fine-tuned model: the artist's own folder first, the classes
it kept from the original model after it, explained ("Also knows: ..."), or left out when the
training changed all of the original's drawing (issue 13, item 8).

A fine-tune of a conditional GAN trains one class on the folder (the card's
``finetune.class``: its index, the folder's name, the class it replaced); the other classes are
the base model's, drawn by a generator that trained too. When it kept some of the generator's
blocks as they were (``finetune.freeze.blocks`` has ``g.*``), those classes keep the original's
shapes and are offered after the folder's, with a note; when every generator block trained,
nothing of the original's drawing of them is left, and the list offers the folder's class alone
(the command line still reaches the others by index).

:func:`class_choice` reads a card (no Qt); :func:`fill_class_combo`, :func:`combo_row` and
:func:`class_at` show it in a combo box whose items carry their class index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from studio.ui.controls import plain_tooltip

if TYPE_CHECKING:
    from PySide6.QtWidgets import QComboBox, QLabel

CLASS_INDEX = Qt.ItemDataRole.UserRole
SHOWN_NAMES = 6  # the note names this many of the others, then "and N more"


@dataclass(frozen=True)
class ClassChoice:
    order: tuple[int, ...]  # the class indices offered, in the order shown
    own: int | None = None  # the class the artist's folder trained, when the model is a fine-tune of one
    note: str = ""  # under the class box: what the others are ("" for a model that is not such a fine-tune)
    tooltip: str = ""


def _names(names: list[str], limit: int = SHOWN_NAMES) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def class_choice(card: dict[str, Any] | None, class_names: list[str]) -> ClassChoice:
    """The classes to offer for a model with ``card`` and ``class_names``, in order, and why."""
    every = tuple(range(len(class_names)))
    finetune = card.get("finetune") if isinstance(card, dict) else None
    record = finetune.get("class") if isinstance(finetune, dict) else None
    own = record.get("index") if isinstance(record, dict) else None
    if not isinstance(own, int) or isinstance(own, bool) or not 0 <= own < len(class_names):
        return ClassChoice(every)
    assert isinstance(finetune, dict) and isinstance(record, dict)  # as read above
    others = [i for i in every if i != own]
    if not others:
        return ClassChoice((own,), own)
    base = finetune.get("base")
    base_name = str(base.get("name")) if isinstance(base, dict) and base.get("name") else "the original model"
    freeze = finetune.get("freeze")
    frozen = freeze.get("blocks") if isinstance(freeze, dict) else None
    kept_drawing = isinstance(frozen, list) and any(isinstance(b, str) and b.startswith("g.") for b in frozen)
    other_names = [class_names[i] for i in others]
    replaced = record.get("base_name")
    technical = (
        f"Fine-tuned from {base_name}: the folder {class_names[own]!r} trained class {own}"
        + (f" ({replaced})" if isinstance(replaced, str) else "")
        + f"; frozen blocks: {', '.join(frozen) if isinstance(frozen, list) and frozen else 'none'}"
    )
    if kept_drawing:
        return ClassChoice(
            (own, *others),
            own,
            f"Also knows: {_names(other_names)} (from {base_name}; your images may have changed them)",
            technical,
        )
    return ClassChoice(
        (own,),
        own,
        f"Learnt from your images only: {base_name}'s other classes ({_names(other_names)}) were trained away",
        technical + ". Every generator block trained, so the other classes are left out here",
    )


def fill_class_combo(combo: QComboBox, note: QLabel, class_names: list[str], card: dict[str, Any] | None) -> None:
    """``combo`` lists the classes :func:`class_choice` offers (each item's data: its class
    index); ``note`` says what the others are, shown only when there is something to say."""
    choice = class_choice(card, class_names)
    combo.clear()
    for index in choice.order:
        combo.addItem(class_names[index], index)
    if choice.own is not None and len(choice.order) > 1:
        combo.insertSeparator(1)
        combo.setItemData(0, "Your images", Qt.ItemDataRole.ToolTipRole)
    note.setText(choice.note)
    note.setToolTip(plain_tooltip(choice.tooltip))
    note.setVisible(bool(choice.note))


def combo_row(combo: QComboBox, class_index: int) -> int:
    """The combo's row that shows ``class_index`` (-1 when it is not offered)."""
    return combo.findData(class_index, CLASS_INDEX)


def class_at(combo: QComboBox, row: int) -> int | None:
    """The class index a row of the combo shows."""
    value = combo.itemData(row, CLASS_INDEX)
    return value if isinstance(value, int) else None
