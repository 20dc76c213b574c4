"""argparse arguments generated from a settings dataclass's options (:mod:`studio.spec.options`)."""

from __future__ import annotations

import argparse
from typing import Any

from studio.spec.options import options_of


def add_options(settings: type, groups: dict[str, Any]) -> None:
    """One argument per option of ``settings``, in the argument group its option names."""
    for name, option in options_of(settings):
        group = groups[option.group]
        if option.switch and option.flag.startswith("--no-"):
            group.add_argument(option.flag, dest=name, action="store_const", const=False, help=option.help)
        elif option.switch:
            group.add_argument(
                option.flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=option.help
            )
        else:
            metavar = option.metavar or (None if option.choices else option.flag[2:].upper().replace("-", "_"))
            group.add_argument(
                option.flag,
                dest=name,
                type=option.type,
                choices=option.choices,
                metavar=metavar,
                help=option.help,
                **({"nargs": "?", "const": option.bare} if option.bare is not None else {}),
            )
