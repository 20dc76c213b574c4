"""``studio data``: build the data sets the bundled models train on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.commands.job_driver import drive_job, exit_with
from studio.commands.terminal import EXIT_BAD_INPUT
from studio.spec.bounds import DATA_IMAGE_SIZE, DATA_LIMIT, HELDOUT, SEED

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="build training data sets")
    actions = data.add_subparsers(dest="data_command", metavar="DATASET", required=True)

    emoji = actions.add_parser(
        "emoji",
        help="render Noto Color Emoji, labelled by Unicode emoji group, with a held-out split",
        description=(
            "Render every emoji of Noto Color Emoji onto white, labelled with its Unicode emoji group "
            "(emoji-test.txt), with a fixed, seeded held-out split. Writes emoji-SIZE.npz, dataset.json "
            "and preview.png into the output folder."
        ),
    )
    emoji.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    emoji.add_argument(
        "--size", type=DATA_IMAGE_SIZE.argument(), default=64, help="image width and height in pixels (default 64)"
    )
    emoji.add_argument(
        "--limit",
        type=DATA_LIMIT.argument(),
        metavar="N",
        help="at most N emoji, taken in turn from each group (quick tests)",
    )
    emoji.add_argument("--seed", type=SEED.argument(), default=0, help="seed of the held-out split (default 0)")
    emoji.add_argument(
        "--holdout", type=HELDOUT.argument(), default=0.1, help="fraction held out, per group (default 0.1)"
    )
    emoji.add_argument(
        "--skin-tones", action="store_true", help="also include the skin-tone variants (about 1,800 more people)"
    )
    emoji.add_argument(
        "--group", action="append", dest="groups", metavar="NAME", help="keep only this emoji group (repeatable)"
    )
    emoji.add_argument(
        "--subgroup",
        action="append",
        dest="subgroups",
        metavar="PATTERN",
        help="keep only emoji of this Unicode subgroup; shell patterns allowed, e.g. 'face-*' (repeatable)",
    )
    emoji.add_argument("--font", metavar="PATH", help="the emoji font (default: Debian's Noto Color Emoji)")
    emoji.add_argument("--emoji-test", metavar="PATH", help="Unicode's emoji-test.txt (default: Debian's unicode-data)")
    emoji.set_defaults(run=_cmd_emoji)


def _cmd_emoji(args: argparse.Namespace) -> int:
    from studio.engine.data.emoji import (
        DEFAULT_EMOJI_TEST,
        DEFAULT_FONT,
        EmojiSourceMissing,
        build_emoji_dataset,
    )
    from studio.files.atomic import SaveError

    job = build_emoji_dataset(
        args.out,
        size=args.size,
        font_path=args.font or DEFAULT_FONT,
        emoji_test_path=args.emoji_test or DEFAULT_EMOJI_TEST,
        holdout=args.holdout,
        seed=args.seed,
        limit=args.limit,
        skin_tones=args.skin_tones,
        groups=args.groups,
        subgroups=args.subgroups,
    )
    # A missing source carries its install hint; the rest name the file and the cause.
    end = drive_job(job, failed=exit_with(EXIT_BAD_INPUT, EmojiSourceMissing, SaveError, OSError, ValueError))
    info = end.result
    if info is None:
        return end.code

    width = max(len(name) for name in info.classes)
    print(f"{info.count} emoji in {len(info.classes)} classes, {info.heldout_count} held out ({info.seconds:.1f} s)")
    for name, count in info.class_counts.items():
        print(f"  {name:<{width}}  {count:>5}")
    if info.skipped:
        print(f"Skipped {len(info.skipped)} emoji the font cannot draw")
    print(f"Data set: {info.npz_path}")
    print(f"Card:     {info.card_path}")
    print(f"Preview:  {info.preview_path}")
    return end.code
