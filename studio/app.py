"""``latent-studio``: open the studio window; ``--self-test`` proves a build works."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from studio import APP_NAME, ORG_NAME, __version__
from studio.commands.terminal import EXIT_INTERRUPTED
from studio.spec.bounds import SELF_TEST_TIMEOUT


def _give_windowed_builds_real_streams() -> None:
    # A windowed (no console) build has sys.stdout/stderr set to None; libraries that print
    # progress would then crash the app.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="latent-studio", description=f"{APP_NAME} {__version__}")
    parser.add_argument("images", nargs="*", help="image files to open")
    parser.add_argument(
        "--self-test", action="store_true", help="open the window, run one job on the device, exit 0 if all works"
    )
    parser.add_argument("--screenshot", metavar="PATH", help="with --self-test: save a screenshot of the window")
    parser.add_argument(
        "--timeout",
        type=SELF_TEST_TIMEOUT.argument(),
        default=180.0,
        help="with --self-test: seconds to wait (default 180)",
    )
    parser.add_argument("--device", help="compute device for this run: auto, cuda, cuda:N, mps or cpu")
    # For benchmarks/startup_time.py: print when the window is on screen, then quit.
    parser.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)
    # For tests that drive the real app in a subprocess (tests/ui/test_crash_recovery.py): once
    # the window is shown, run this Python file with `window`, `worker` and `app` in its globals.
    parser.add_argument("--test-script", metavar="PATH", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        return _start(argv)
    except KeyboardInterrupt:
        # Ctrl+C while the studio starts (Qt and the window take seconds to import): stop
        # quietly, with the shell's code for it, not a traceback.
        return EXIT_INTERRUPTED


def _start(argv: list[str] | None) -> int:
    _give_windowed_builds_real_streams()
    args = parse_args(argv)

    # Before Qt: a missing X11 library makes Qt abort with a message that names the wrong one.
    from studio.desktop_libraries import EXIT_MISSING_LIBRARIES, check_display_libraries

    problem = check_display_libraries()
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return EXIT_MISSING_LIBRARIES

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from studio.files.resources import resource_path
    from studio.logs import install_excepthook, setup_logging
    from studio.services.settings import Settings
    from studio.services.worker import Worker
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme

    setup_logging(console=args.self_test)
    from studio.files.paths import clean_user_data_temps

    for leftover in clean_user_data_temps():  # temp files of saves killed in an earlier session
        logging.getLogger(__name__).info("removed %s, left by a save that was killed", leftover)
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(resource_path("icons", "latent-studio.svg"))))

    settings = Settings()
    apply_theme(app, settings.theme)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_theme(app, settings.theme))

    worker = Worker(device_preference=args.device or settings.device)
    # The self-test quits on its own, with nothing of the user's to lose: never ask.
    quit_options = {"confirm_quit": lambda *_: True} if args.self_test else {}
    window = MainWindow(worker, settings, **quit_options)
    install_excepthook(window.errorReported.emit)
    window.show()

    if args.startup_probe:

        def report_visible() -> None:
            window.repaint()  # the first frame really drawn, not just scheduled
            print("window-visible", flush=True)
            window.close()

        QTimer.singleShot(0, report_visible)
        return app.exec()

    # The window is up before torch loads: the worker imports it on its own thread.
    QTimer.singleShot(0, worker.start)
    for image in args.images:
        QTimer.singleShot(0, lambda path=image: window.open_image(path))

    if args.test_script:
        source = Path(args.test_script).read_text(encoding="utf-8")
        code = compile(source, args.test_script, "exec")
        QTimer.singleShot(0, lambda: exec(code, {"window": window, "worker": worker, "app": app}))

    if args.self_test:
        from studio.ui.self_test import SelfTest

        test = SelfTest(
            window, worker, screenshot=Path(args.screenshot) if args.screenshot else None, timeout_s=args.timeout
        )
        test.start()
        app.exec()
        report = test.report()
        # Logged as well as printed: a windowed build (Windows, a macOS .app) may have no
        # console, and the packaging smoke test reads the verdict from the log file then.
        logging.getLogger("studio.self_test").log(
            logging.INFO if test.exit_code == 0 else logging.ERROR, "\n%s", report
        )
        print(report, file=sys.stderr if test.exit_code else sys.stdout, flush=True)
        return test.exit_code

    code = app.exec()
    worker.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
