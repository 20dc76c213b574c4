"""A folder path typed on the wizard's images page that cannot be a path here."""

from __future__ import annotations

import pytest

TIMEOUT = 60_000


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("~nosuchuser/x", "~nosuchuser/x: there is no user 'nosuchuser' on this computer"),
        ("/tmp/" + "a" * 300, "a name in this path is too long for the file system"),
    ],
    ids=["unknown-user", "long-name"],
)
def test_the_images_page_says_why_the_folder_cannot_be_used(qtbot, window, typed, says):
    wizard = window.finetune_panel.open_wizard()
    images = wizard.images_page
    images.set_folder(typed)  # no RuntimeError or OSError out of the slot
    qtbot.waitUntil(lambda: says in images.summary.text(), timeout=TIMEOUT)
    assert not images.isComplete()
    # The page is still usable: the user can type another folder.
    assert images.path_edit.isEnabled()
