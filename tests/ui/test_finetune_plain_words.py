"""The fine-tune wizard speaks an artist's words: what to keep from the original model, parts of
the model, variations, how close it gets to your images; the technical names and the numbers
are in the tooltips (issue 13, item 3)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from studio.engine.training.freezing import model_blocks, preset_blocks, presets_for
from studio.engine.training.kid import KidResult
from studio.engine.training.loop import TrainProgress
from studio.spec.models import GANConfig
from studio.ui.finetune.finish_page import FinishPage
from studio.ui.finetune.freeze_page import FreezePage
from studio.ui.finetune.jobs import LoadedBase
from studio.ui.finetune.kid_bar import CloserBar
from studio.ui.finetune.session import FinetuneSession
from studio.ui.finetune.settings_page import SettingsPage
from studio.ui.finetune.train_page import TrainPage

JARGON = re.compile(r"FreezeD|[Dd]iscriminator|[Gg]enerator|DiffAugment|KID|\bparameters\b|\d+x\d+|\d+×\d+")


@pytest.fixture
def session(qtbot, fake_worker):
    return FinetuneSession(fake_worker)


def _gan_base() -> LoadedBase:
    config = GANConfig(latent_dim=16, g_channels=32, d_channels=8, num_classes=2)
    model = SimpleNamespace(kind="gan", name="Tiny GAN", checkpoint=Path("tiny-gan.ckpt"))
    presets = tuple(presets_for("gan"))
    return LoadedBase(
        model=model,  # type: ignore[arg-type]  # what the page reads of a BaseModel
        presets=presets,
        preset_blocks={p.key: preset_blocks(p.key, config) for p in presets},
        blocks=tuple(model_blocks(config)),
        default_freeze="freeze-d",
        default_augment=("flip", "color", "translation", "cutout"),
    )


def test_the_freeze_page_asks_what_to_keep_in_plain_words_with_the_technical_names_in_tooltips(qtbot, session):
    session.draft.base = _gan_base()
    page = FreezePage(session)
    qtbot.addWidget(page)
    page.initializePage()

    assert "keep" in page.title().lower() and "original model" in page.title()
    buttons = page.presets.buttons()
    assert len(buttons) == 4  # FreezeD, last blocks, everything, custom
    for button in buttons:
        assert not JARGON.search(button.text()), button.text()
    freeze_d = page.preset_button("freeze-d")
    assert freeze_d.isChecked() and "FreezeD" in freeze_d.toolTip()
    assert "last-blocks" in page.preset_button("last-blocks").toolTip()

    items = page.block_items()
    texts = [item.text(0) for item in items]
    for text in texts:
        assert not JARGON.search(text), text
    # The discriminator's first block, "Discriminator 32×32 · 784" before: plain, its numbers in the tooltip.
    judge = next(item for item in items if item.data(0, Qt.ItemDataRole.UserRole) == "d.32x32")
    assert judge.text(0) == "Judge · fine detail (32 px)"
    assert "Discriminator 32×32" in judge.toolTip(0) and "d.32x32" in judge.toolTip(0)
    assert re.search(r"\d[\d,]* parameters", judge.toolTip(0))
    assert next(i.text(0) for i in items if i.data(0, Qt.ItemDataRole.UserRole) == "g.4x4").endswith(
        "overall layout (4 px)"
    )
    headings = [page.blocks.topLevelItem(i).text(0) for i in range(page.blocks.topLevelItemCount())]
    assert [h.split(":")[0] for h in headings] == ["Maker", "Judge"]

    # The share kept, in words; the parameter counts in the tooltip.
    assert "stays as it was" in page.count.text() and not JARGON.search(page.count.text())
    assert "parameters" in page.count.toolTip()
    before = page.count.text()
    page.select_preset("all")
    assert page.count.text().startswith("100 %") and page.count.text() != before


def test_the_settings_page_names_variations_plainly_with_their_technical_names_in_tooltips(qtbot, session):
    page = SettingsPage(session)
    qtbot.addWidget(page)
    labels = {name: box.text() for name, box in page.augment.items()}
    assert labels == {
        "flip": "Mirror",
        "jitter": "Tint",
        "color": "Vary colours",
        "translation": "Shift",
        "cutout": "Cut holes",
    }
    for name in ("color", "translation", "cutout"):
        assert "DiffAugment" in page.augment[name].toolTip() and f"({name})" in page.augment[name].toolTip()
    assert not JARGON.search(page.kid.text()) and "KID" in page.kid.toolTip()
    rows = {
        page.steps: ("Training length", "Steps"),
        page.batch: ("Images at a time", "Batch size"),
        page.lr: ("Learning speed", "Learning rate"),
        page.loss: ("Judging rule", "Loss"),
    }
    form = page.layout().itemAt(0).layout()
    for field, (plain, technical) in rows.items():
        label = form.labelForField(field)
        assert label.text() == plain and label.toolTip().startswith(f"{technical}:")
        assert field.toolTip() == label.toolTip()  # the same words hovering the box itself


def test_the_training_page_reads_plainly_losses_in_the_tooltip_and_a_closer_bar_fills_as_it_improves(qtbot, session):
    page = TrainPage(session)
    qtbot.addWidget(page)

    # The curves: titled in plain words, the legend plain, the loss names in the tooltip.
    plot = page.curves.getPlotItem()
    assert plot.titleLabel.text == "How well it imitates your images"
    page.curves.add_losses(5, {"d": 0.604, "g": 0.9595})
    assert [label.text for _sample, label in page.curves.legend.items] == ["Judge", "Maker"]
    assert "discriminator loss (d)" in page.curves.toolTip()

    # The status: no "d 0.604 g 0.9595"; the engine's line is the tooltip.
    message = "Step 10/20  d 0.604 g 0.9595  1.00 it/s  ETA 10s"
    session.trainingProgress.emit(
        TrainProgress(0.5, message, step=10, total_steps=20, losses={"d": 0.604, "g": 0.9595}, eta_seconds=10)
    )
    assert page.status.text() == "Step 10 of 20 · about 10 s left"
    assert message in page.status.toolTip() and "generator loss (g) 0.9595" in page.status.toolTip()

    # "Closer to your images": before, then a better measurement fills the second bar more.
    session.kidMeasured.emit(KidResult(0.2, 0.01, step=0))
    assert page.closer.before_bar.value() > 0 and page.closer.after_bar.value() == 0
    session.kidMeasured.emit(KidResult(0.05, 0.01, step=10))
    assert page.closer.after_bar.value() > page.closer.before_bar.value()
    assert page.closer.after_label.text() == "Now"
    assert "0.2" in page.closer.toolTip() and "0.05" in page.closer.toolTip() and "KID" in page.closer.toolTip()
    assert not JARGON.search(page.closer.note.text())


def test_the_closer_bar_is_fuller_for_the_better_result_either_way(qtbot):
    bar = CloserBar()
    qtbot.addWidget(bar)
    bar.show_result(KidResult(0.30, 0.02), KidResult(0.04, 0.01))
    better = bar.after_bar.value()
    assert better > bar.before_bar.value() and "Closer" in bar.note.text()
    bar.show_result(KidResult(0.04, 0.01), KidResult(0.30, 0.02))
    assert bar.after_bar.value() < bar.before_bar.value() and "Not closer" in bar.note.text()
    assert bar.before_bar.value() == better  # the same KID fills the same share
    assert "0.3 " in bar.toolTip() and "0.04 " in bar.toolTip()


def test_the_finish_page_shows_before_and_after_as_the_closer_bar(qtbot, session):
    train = SimpleNamespace(step=20)
    session.result = SimpleNamespace(
        train=train,
        model_path=Path("x.safetensors"),
        kid_before=KidResult(0.25, 0.02, step=0),
        kid_after=KidResult(0.08, 0.01, step=20),
    )
    page = FinishPage(session)
    qtbot.addWidget(page)
    page.initializePage()
    assert not page.closer.isHidden()
    assert page.closer.after_bar.value() > page.closer.before_bar.value()
    assert "KID" not in page.summary.text() and "0.25" in page.closer.toolTip()
