"""What the window, the CLI and the engine agree on before torch loads: model configs, layer
names, PNG keys, ranges.

Each constant is defined once, here, in modules that import neither torch nor Qt (an
import-linter contract in pyproject.toml keeps it so), so the GUI can import them at module
top and still show its window before the worker thread imports torch.
"""
