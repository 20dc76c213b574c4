"""Command-line options described once, on the settings dataclass they set.

A settings field whose metadata holds a :class:`CliOption` (made with :func:`cli_option`) is an
option of its command: ``studio.commands.options.add_options`` generates the argparse arguments
from it, :func:`given_options` reads the parsed values back as field values, and
:meth:`CliOption.words` writes a value back into a reproducible command line. Nothing else
spells the flag.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


@dataclass(frozen=True)
class CliOption:
    """How a setting is written on its command's command line."""

    flag: str  # "--d-lr"; a switch's: "--amp" (with --no-amp), or "--no-kid" (which turns the setting off)
    help: str
    type: Callable[[str], Any] = str  # what the option's text is parsed as
    choices: tuple[str, ...] | None = None
    group: str = "run"  # the section of ``--help`` it is listed in
    read: Callable[[Any], Any] | None = None  # the parsed text into the setting's value
    write: Callable[[Any], str] = str  # the setting's value back into text
    always: bool = False  # on every command line, not only when it differs from the default
    switch: bool = False  # a yes/no setting: the flag alone says it
    bare: str | None = None  # the value the flag means when it is given without one
    metavar: str | None = None  # what ``--help`` calls the value (default: the flag in capitals)

    def words(self, value: Any) -> list[str]:
        """This option on a command line, for ``value``."""
        if not self.switch:
            return [self.flag, self.write(value)]
        if self.flag.startswith("--no-"):
            return [self.flag]  # only ever written to turn the setting off
        return [self.flag if value else "--no-" + self.flag[2:]]


def cli_option(flag: str, help: str, **how: Any) -> dict[str, CliOption]:
    """A field's metadata that makes it a command-line option: ``field(metadata=cli_option(...))``."""
    return {"option": CliOption(flag, help, **how)}


def options_of(settings: type) -> list[tuple[str, CliOption]]:
    """(field name, its option) for every field of ``settings`` that is an option, in field order."""
    return [(f.name, f.metadata["option"]) for f in dataclasses.fields(settings) if "option" in f.metadata]


def given_options(settings: type, parsed: Mapping[str, Any]) -> dict[str, Any]:
    """The field values that the options given on a command line make (``parsed`` maps field
    names to what argparse parsed, None for an option not given)."""
    values = {}
    for name, option in options_of(settings):
        value = parsed.get(name)
        if value is not None:
            values[name] = option.read(value) if option.read is not None else value
    return values
