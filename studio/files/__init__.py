"""Files and folders, without torch or Qt: the safe image loader and PNG settings, atomic saves,
the user's folders, the bundled resources, animation export.

The engine, the command line and the widgets all read and write files through here; it imports
neither torch nor Qt (a contract in pyproject.toml), so the window can use it before torch loads.
"""
