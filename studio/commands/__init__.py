"""Subcommands of ``studio``, one module per area.

Each module defines ``add_commands(subparsers)``, which adds its parsers and sets ``run`` on
each to a function taking the parsed arguments and returning an exit code. Heavy imports
(torch) happen inside those functions, so ``studio --help`` stays fast.
"""

COMMAND_MODULES = (
    "studio.commands.data",
    "studio.commands.latent",
    "studio.commands.mix",
    "studio.commands.direction",
    "studio.commands.train",
    "studio.commands.finetune",
    "studio.commands.style",
    "studio.commands.evaluate",
    "studio.commands.repaint",
)
