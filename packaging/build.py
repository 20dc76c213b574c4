"""Build Latent Studio's installers: ``python packaging/build.py TARGET``.

Targets:
  icons       every icon size and format, from the one source image (build/icons/)
  app         the onedir bundle with PyInstaller (dist/latent-studio/; on macOS also the .app)
  deb         Linux: the .deb (app under /opt, launcher on PATH, menu entry, icons, metainfo)
  nsis        Windows: the installer (Start-menu entry, uninstaller); run on Windows
  dmg         macOS: the signed (when credentials exist) and notarised .dmg; run on macOS
  smoke DIR   run the frozen app found in DIR (a onedir, an installed /opt/latent-studio, a
              .app or the folder holding it) through its --self-test, offscreen, with a
              clean environment, and measure its time to window

Every installer target builds the app first unless --no-app is given. Each target prints
what it made and records its figures in build/figures.json (docs/packaging.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import identity
import notices

sys.path.insert(0, str(identity.ROOT))
from studio.desktop_libraries import DESKTOP_LIBRARIES  # no Qt, no torch

ROOT = identity.ROOT
PACKAGING = ROOT / "packaging"
BUILD = ROOT / "build"
DIST = ROOT / "dist"
ICONS = BUILD / "icons"
SPEC = PACKAGING / "latent-studio.spec"
FIGURES = BUILD / "figures.json"
DESKTOP_FILE = PACKAGING / "linux" / f"{identity.APP_ID}.desktop"
METAINFO_FILE = PACKAGING / "linux" / f"{identity.APP_ID}.metainfo.xml"
NSIS_SCRIPT = PACKAGING / "windows" / "latent-studio.nsi"
DMG_SETTINGS = PACKAGING / "macos" / "dmg_settings.py"
SIGN_SCRIPT = PACKAGING / "macos" / "sign_and_notarize.sh"

# What the smoke test demands of the self-test's report: one line per thing a user would do
# first (see studio/ui/self_test.py). A panel that silently skipped its check fails the build.
SMOKE_REQUIRED_STEPS = (
    "window shown",
    "icons drawn",
    "torch ready on",
    "device check ran",
    "Latent Explorer rendered",
    "style transfer ran",
)


class BuildError(RuntimeError):
    """A step failed; the message says which and what to do about it."""


# --- small helpers ---------------------------------------------------------------------------------


def run(command: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    printable = " ".join(str(part) for part in command)
    print(f"$ {printable}", flush=True)
    try:
        return subprocess.run([str(part) for part in command], check=True, **kwargs)
    except FileNotFoundError as exc:
        raise BuildError(f"{command[0]} is not installed ({exc})") from None
    except subprocess.CalledProcessError as exc:
        # Captured output (the validators' verdicts) belongs in the message; streamed output
        # has already been shown.
        detail = "".join(part for part in (exc.stdout, exc.stderr) if isinstance(part, str))
        raise BuildError(f"`{printable}` failed with exit code {exc.returncode}\n{detail}".rstrip()) from None


def require_tools(*tools: tuple[str, str]) -> None:
    """Fail early, naming every missing tool and how to get it, before a long build starts."""
    missing = [f"{tool} ({how})" for tool, how in tools if shutil.which(tool) is None]
    if missing:
        raise BuildError("missing build tools: " + "; ".join(missing))


def tree_size(path: Path) -> int:
    """Bytes of every file under ``path`` (links counted once, as links)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            total += os.lstat(os.path.join(folder, name)).st_size
    return total


def shown(path: Path) -> str:
    """A path as the figures show it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def mib(size: int) -> float:
    return round(size / 2**20, 1)


def record(section: str, figures: dict) -> None:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    data[section] = {
        **figures,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "recorded": time.strftime("%Y-%m-%d %H:%M"),
    }
    FIGURES.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({section: data[section]}, indent=2), flush=True)


def torch_variant() -> str:
    """The bundled torch's version and whether it carries CUDA, read from its files, not imported."""
    import importlib.util
    from importlib import metadata

    spec = importlib.util.find_spec("torch")
    version_file = Path(spec.origin).parent / "version.py" if spec and spec.origin else None
    cuda = None
    if version_file and version_file.is_file():
        match = re.search(r"^cuda(?:: [^=]+)? = ['\"]([^'\"]+)['\"]", version_file.read_text(), flags=re.M)
        cuda = match.group(1) if match else None
    version = metadata.version("torch")
    return f"{version} with CUDA {cuda}" if cuda else f"{version} (CPU only)"


# --- icons and the onedir app ------------------------------------------------------------------------


def build_icons() -> dict[str, Path]:
    import icons

    if ICONS.exists():
        shutil.rmtree(ICONS)
    made = icons.generate(ICONS)
    print(f"icons: {len(made)} files in {shown(ICONS)}", flush=True)
    return made


def bundle_dir() -> Path:
    return DIST / identity.EXECUTABLE


CUDA_LIBRARY = re.compile(
    r"(cuda|cudnn|cublas|cufft|curand|cusolver|cusparse|nccl|nvshmem|nvrtc|nvjitlink|cupti|cufile|nvtx)"
)


def cuda_libraries_size(bundle: Path) -> int:
    """Bytes of NVIDIA's libraries and torch's CUDA kernels: what a CPU-only torch would not bring."""
    total = 0
    for path in bundle.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue  # PyInstaller links some libraries into the top folder: counted once, at their target
        is_library = ".so" in path.suffixes or path.suffix in (".dll", ".dylib")
        if "nvidia" in path.parts or (is_library and CUDA_LIBRARY.search(path.name)):
            total += path.stat().st_size
    return total


def build_app() -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise BuildError('PyInstaller is not installed: pip install -e ".[packaging]"') from None
    build_icons()
    started = time.perf_counter()
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--distpath",
            DIST,
            "--workpath",
            BUILD / "pyinstaller",
            SPEC,
        ]
    )
    seconds = time.perf_counter() - started
    bundle = bundle_dir()
    executable = bundle / (identity.EXECUTABLE + (".exe" if sys.platform == "win32" else ""))
    if not executable.is_file():
        raise BuildError(f"PyInstaller finished but {executable} is missing")
    figures = {
        "path": shown(bundle),
        "size_mib": mib(tree_size(bundle)),
        "build_s": round(seconds, 1),
        "torch": torch_variant(),
        "python": platform.python_version(),
    }
    figures["cuda_libraries_mib"] = mib(cuda_libraries_size(bundle))
    # The licences and attributions of the style networks' weights and the built-in styles' photo,
    # beside the executable (the Windows installer and the .deb carry the whole folder).
    notices.write_notices(bundle)
    if sys.platform == "darwin":
        figures["app_bundle"] = shown(DIST / f"{identity.APP_NAME}.app")
        notices.write_notices(DIST / f"{identity.APP_NAME}.app" / "Contents" / "Resources")
    record("app", figures)
    return bundle


# --- Linux: the .deb ---------------------------------------------------------------------------------


def validate_linux_metadata(desktop: Path = DESKTOP_FILE, metainfo: Path = METAINFO_FILE) -> None:
    """The freedesktop validators' verdicts; a warning is as fatal as an error in a release."""
    result = run(["desktop-file-validate", desktop], capture_output=True, text=True)
    if result.stdout.strip():
        raise BuildError(f"desktop-file-validate: {result.stdout.strip()}")
    run(["appstreamcli", "validate", "--no-net", "--pedantic", "--explain", metainfo], capture_output=True, text=True)


# Libraries that PyInstaller leaves to the system (glibc, OpenGL/EGL...) are found with ldd;
# the Debian packages holding them become the .deb's Depends. PyInstaller bundles the other
# libraries it finds on the build machine; Qt's xcb and Wayland plugins need these on a
# desktop, and a build machine that lacks them (so could not bundle them) names them here.
# The table lives with the launcher, which checks the xcb ones before it starts Qt.
DESKTOP_ONLY_LIBRARIES = {soname: library.debian for soname, library in DESKTOP_LIBRARIES.items()}
# Loaded only on an NVIDIA machine, from the driver: never a dependency of the package.
DRIVER_LIBRARIES = re.compile(r"^lib(cuda|nvidia-ml|nvrtc-builtins)\.so")


def _elf_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def system_libraries(bundle: Path) -> tuple[set[str], set[str]]:
    """(system library paths the bundle links to, as ldd names them; sonames found nowhere)."""
    resolved: set[str] = set()
    missing: set[str] = set()
    bundle_prefix = str(bundle.resolve())
    # As the frozen app runs: PyInstaller's bootloader puts the bundle's library folder first
    # on the search path, so a bundled library's own needs are met from the bundle.
    internal = bundle / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal if internal.is_dir() else bundle)}
    for elf in _elf_files(bundle):
        result = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env)
        for line in result.stdout.splitlines():
            match = re.match(r"\s*(\S+) => (not found|(\S+) \(0x)", line)
            if not match:
                continue
            soname, target = match.group(1), match.group(3)
            if target is None:
                missing.add(soname)
            elif not os.path.realpath(target).startswith(bundle_prefix):
                resolved.add(target)
    # A library the bundle ships is "not found" by ldd only when its RUNPATH is relative to a
    # folder the analysis did not keep; it is still there, so it is no dependency.
    shipped = {path.name for path in bundle.rglob("*.so*")}
    return resolved, {name for name in missing if name not in shipped}


def _path_spellings(library: str) -> list[str]:
    """The names dpkg may have recorded a library under: on a merged-/usr system ldd says
    /lib/x86_64-linux-gnu/libc.so.6 or /usr/lib/..., and the file may be a link to another name."""
    spellings = {library, os.path.realpath(library)}
    for path in list(spellings):
        if path.startswith("/usr/lib/"):
            spellings.add(path[len("/usr") :])
        elif path.startswith("/lib/"):
            spellings.add("/usr" + path)
    return sorted(spellings)


def debian_depends(bundle: Path) -> list[str]:
    libraries, missing = system_libraries(bundle)
    packages: set[str] = set()
    spellings = {library: _path_spellings(library) for library in libraries}
    owners: dict[str, str] = {}
    if libraries:
        # dpkg -S exits 1 when any one name is unknown, and still prints the owners it found.
        result = subprocess.run(
            ["dpkg", "-S", *sorted({s for names in spellings.values() for s in names})], capture_output=True, text=True
        )
        for line in result.stdout.splitlines():
            names, _, path = line.partition(": ")
            owners[path.strip()] = names
    unowned = []
    for library, names in sorted(spellings.items()):
        found = [owners[name] for name in names if name in owners]
        if not found:
            unowned.append(library)
        for owner in found:
            packages.update(name.split(":")[0] for name in owner.split(", "))
    unknown = []
    for soname in sorted(missing):
        if soname in DESKTOP_ONLY_LIBRARIES:
            packages.add(DESKTOP_ONLY_LIBRARIES[soname])
        elif not DRIVER_LIBRARIES.match(soname):
            unknown.append(soname)
    if unowned or unknown:
        raise BuildError(
            "the bundle needs libraries that no Debian package on this machine provides: "
            + ", ".join(unowned + unknown)
        )
    return sorted(packages)


def _stage_file(source: Path, target: Path, mode: int = 0o644) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def check_deb_prerequisites() -> None:
    """Run before the (long) app build: the tools the .deb needs, and the metadata it ships."""
    require_tools(
        ("dpkg-deb", "apt install dpkg"),
        ("desktop-file-validate", "apt install desktop-file-utils"),
        ("appstreamcli", "apt install appstream"),
        ("ldd", "apt install libc-bin"),
    )
    validate_linux_metadata()


def build_deb(bundle: Path) -> Path:
    check_deb_prerequisites()
    started = time.perf_counter()
    arch = run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    root = BUILD / "deb" / "root"
    if root.exists():
        shutil.rmtree(root)
    opt = root / "opt" / identity.EXECUTABLE
    # Hard links, not copies: the bundle is gigabytes with CUDA torch, and dpkg-deb reads the
    # files once; the modes below are the ones the bundle has anyway.
    shutil.copytree(bundle, opt, copy_function=os.link, symlinks=True)
    for folder, _dirs, names in os.walk(opt):
        os.chmod(folder, 0o755)
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
    launcher = root / "usr" / "bin" / identity.EXECUTABLE
    launcher.parent.mkdir(parents=True)
    # A relative link, so the same tree works installed at / or unpacked into a scratch root;
    # PyInstaller's bootloader resolves the link to find its _internal folder.
    launcher.symlink_to(os.path.relpath(opt / identity.EXECUTABLE, launcher.parent))
    share = root / "usr" / "share"
    _stage_file(DESKTOP_FILE, share / "applications" / DESKTOP_FILE.name)
    _stage_file(METAINFO_FILE, share / "metainfo" / METAINFO_FILE.name)
    for icon in (ICONS / "hicolor").rglob("*"):
        if icon.is_file():
            _stage_file(icon, share / "icons" / "hicolor" / icon.relative_to(ICONS / "hicolor"))
    copyright_text = (
        (ROOT / "LICENSE").read_text() if (ROOT / "LICENSE").is_file() else "MIT licence (see pyproject.toml)\n"
    )
    (share / "doc" / identity.EXECUTABLE).mkdir(parents=True)
    (share / "doc" / identity.EXECUTABLE / "copyright").write_text(
        f"{identity.APP_NAME} {identity.VERSION}\nCopyright: {identity.PUBLISHER}\nLicense: MIT\n\n{copyright_text}"
        "The bundled Python, Qt (LGPL-3.0), PyTorch (BSD-3-Clause) and their libraries keep their own licences.\n\n"
        + notices.notices_text()
    )
    depends = debian_depends(opt)
    installed_kib = (tree_size(root) + 1023) // 1024
    control = root / "DEBIAN" / "control"
    control.parent.mkdir(parents=True)
    control.write_text(
        f"Package: {identity.EXECUTABLE}\n"
        f"Version: {identity.VERSION}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {identity.PUBLISHER} <latent-studio@users.noreply.invalid>\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(depends)}\n"
        "Section: graphics\n"
        "Priority: optional\n"
        f"Description: {identity.SUMMARY.split(' and ')[0].lower()}\n"
        " Latent Studio is a desktop studio for artists: move sliders through what a\n"
        " generative model (VAE or GAN) has learnt, paint a photo in the style of one\n"
        " or more paintings, and adapt models to your own images. It runs on the CPU\n"
        " or an NVIDIA GPU; everything it needs is bundled under /opt/latent-studio.\n"
    )
    deb = DIST / f"{identity.EXECUTABLE}_{identity.VERSION}_{arch}.deb"
    deb.parent.mkdir(parents=True, exist_ok=True)
    # zstd: xz (dpkg's default) needs most of an hour for a CUDA-sized bundle on two cores;
    # dpkg reads zstd from Debian 12 and Ubuntu 21.10 on.
    run(["dpkg-deb", "--root-owner-group", "-Zzstd", "-z6", "--build", root, deb])
    seconds = time.perf_counter() - started
    shutil.rmtree(root)
    record(
        "deb",
        {
            "path": shown(deb),
            "size_mib": mib(deb.stat().st_size),
            "installed_mib": round(installed_kib / 1024, 1),
            "package_s": round(seconds, 1),
            "depends": depends,
        },
    )
    return deb


# --- Windows and macOS ---------------------------------------------------------------------------


def _signtool() -> str | None:
    found = shutil.which("signtool")
    if found:
        return found
    kits = sorted(
        Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)"), "Windows Kits", "10", "bin").glob(
            "*/x64/signtool.exe"
        )
    )
    return str(kits[-1]) if kits else None


def sign_windows(path: Path) -> bool:
    """Authenticode-sign ``path`` when a certificate is configured (RELIABILITY.md item 29).

    WINDOWS_CERTIFICATE_FILE is a .pfx file, WINDOWS_CERTIFICATE_PASSWORD its password; without
    them the build stays unsigned (Windows SmartScreen then warns on first start).
    """
    certificate = os.environ.get("WINDOWS_CERTIFICATE_FILE")
    if not certificate:
        return False
    signtool = _signtool()
    if signtool is None:
        raise BuildError("WINDOWS_CERTIFICATE_FILE is set but signtool (Windows SDK) is not installed")
    run(
        [
            signtool,
            "sign",
            "/f",
            certificate,
            "/p",
            os.environ.get("WINDOWS_CERTIFICATE_PASSWORD", ""),
            "/fd",
            "sha256",
            "/tr",
            "http://timestamp.digicert.com",
            "/td",
            "sha256",
            path,
        ]
    )
    return True


def build_nsis(bundle: Path) -> Path:
    if sys.platform != "win32":
        raise BuildError("the NSIS installer is built on Windows (see .github/workflows/release.yml)")
    require_tools(("makensis", "choco install nsis"))
    out = DIST / f"{identity.EXECUTABLE}-{identity.VERSION}-setup.exe"
    started = time.perf_counter()
    signed = sign_windows(bundle / f"{identity.EXECUTABLE}.exe")
    run(
        [
            "makensis",
            "-V3",
            "-INPUTCHARSET",
            "UTF8",
            f"-DAPP_NAME={identity.APP_NAME}",
            f"-DAPP_VERSION={identity.VERSION}",
            f"-DAPP_ID={identity.APP_ID}",
            f"-DEXECUTABLE={identity.EXECUTABLE}",
            f"-DPUBLISHER={identity.PUBLISHER}",
            f"-DBUNDLE_DIR={bundle}",
            f"-DICON={ICONS / (identity.EXECUTABLE + '.ico')}",
            f"-DOUT_FILE={out}",
            NSIS_SCRIPT,
        ]
    )
    signed = sign_windows(out) and signed
    if not signed:
        print("WINDOWS_CERTIFICATE_FILE is not set: the installer stays unsigned", flush=True)
    record(
        "nsis",
        {
            "path": shown(out),
            "size_mib": mib(out.stat().st_size),
            "signed": signed,
            "package_s": round(time.perf_counter() - started, 1),
        },
    )
    return out


def build_dmg() -> Path:
    if sys.platform != "darwin":
        raise BuildError("the .dmg is built on macOS (see .github/workflows/release.yml)")
    app = DIST / f"{identity.APP_NAME}.app"
    if not app.is_dir():
        raise BuildError(f"{app} is missing: build the app first")
    started = time.perf_counter()
    signing = bool(os.environ.get("MACOS_SIGNING_IDENTITY"))
    if signing:
        run(["bash", SIGN_SCRIPT, "app", app])
    else:
        print("MACOS_SIGNING_IDENTITY is not set: the .app and .dmg stay unsigned", flush=True)
    try:
        import dmgbuild
    except ImportError:
        raise BuildError('dmgbuild is not installed: pip install -e ".[packaging]" on macOS') from None
    out = DIST / f"{identity.EXECUTABLE}-{identity.VERSION}.dmg"
    dmgbuild.build_dmg(
        str(out),
        identity.APP_NAME,
        str(DMG_SETTINGS),
        defines={"app": str(app), "icon": str(ICONS / f"{identity.EXECUTABLE}.icns")},
    )
    if signing:
        run(["bash", SIGN_SCRIPT, "dmg", out])
    record(
        "dmg",
        {
            "path": shown(out),
            "size_mib": mib(out.stat().st_size),
            "signed": signing,
            "package_s": round(time.perf_counter() - started, 1),
        },
    )
    return out


# --- the smoke test --------------------------------------------------------------------------------


def find_executable(target: Path) -> Path:
    """The frozen executable in a onedir folder, an installed tree, a .app or a folder holding one."""
    target = target.resolve()
    names = [identity.EXECUTABLE + ".exe", identity.EXECUTABLE]
    candidates = [target] if target.is_file() else []
    for base in (target, target / f"{identity.APP_NAME}.app", target / "opt" / identity.EXECUTABLE):
        candidates += [base / name for name in names]
        candidates += [base / "Contents" / "MacOS" / name for name in names]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError(f"no {identity.EXECUTABLE} executable in {target}")


def clean_environment(home: Path) -> dict[str, str]:
    """What a fresh user session has: no virtual environment, no CUDA on PATH, offscreen Qt.

    The frozen app must not lean on the build machine's Python, site-packages or CUDA install
    (RELIABILITY.md item 27), so only the system's own folders are on PATH.
    """
    keep = (
        "HOME",
        "USER",
        "LANG",
        "LC_ALL",
        "TZ",
        "SYSTEMROOT",
        "SystemRoot",
        "WINDIR",
        "TEMP",
        "TMP",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
        # Set on CPUs where older OpenBLAS builds crash or miscompute; the bundled numpy
        # needs them as much as the system's does.
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
    )
    env = {name: os.environ[name] for name in keep if name in os.environ}
    if sys.platform == "win32":
        system_root = os.environ.get("SystemRoot", r"C:\Windows")
        env["PATH"] = f"{system_root}\\System32;{system_root}"
    else:
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        runtime = home / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)  # Qt warns (on stderr) without one
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["LATENT_STUDIO_HOME"] = str(home / "studio-home")
    return env


def time_to_window(executable: Path, env: dict[str, str], cwd: Path, runs: int) -> dict | None:
    """Spawn to first drawn frame (``--startup-probe``), as benchmarks/startup_time.py measures it."""
    times = []
    for index in range(runs + 1):  # the first launch warms the file cache and is not counted
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(executable), "--startup-probe"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cwd,
        )
        seen = None
        for line in process.stdout:
            if line.startswith("window-visible"):
                seen = time.perf_counter() - started
                break
        process.stdout.close()
        process.wait(timeout=120)
        if seen is None:
            # A windowed Windows build may have no stdout to print to: no figure, not a failure.
            return None
        if index:
            times.append(seen)
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "runs": runs,
    }


def smoke(target: Path, *, timeout: float, runs: int) -> int:
    executable = find_executable(target)
    print(f"smoke test of {executable}", flush=True)
    with tempfile.TemporaryDirectory(prefix="studio-smoke-") as scratch:
        scratch = Path(scratch)
        env = clean_environment(scratch)
        shot = scratch / "self-test.png"
        started = time.perf_counter()
        try:
            result = subprocess.run(
                [str(executable), "--self-test", "--screenshot", str(shot), "--timeout", str(timeout)],
                capture_output=True,
                text=True,
                env=env,
                cwd=scratch,
                timeout=timeout + 60,
            )
            output, code = result.stdout + result.stderr, result.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = f"{exc.stdout or ''}{exc.stderr or ''}\nkilled after {timeout + 60:.0f} s", -1
        seconds = time.perf_counter() - started
        # A windowed build may have no streams to print to; the self-test logs its report too.
        for log in (scratch / "studio-home" / "logs").glob("*.log"):
            output += "\n" + log.read_text(encoding="utf-8", errors="replace")
        print(output.strip(), flush=True)
        problems = []
        if code != 0:
            problems.append(f"the self-test exited with {code}")
        problems += [f"the self-test did not report '{step}'" for step in SMOKE_REQUIRED_STEPS if step not in output]
        if not shot.is_file() or shot.stat().st_size == 0:
            problems.append("the self-test saved no screenshot")
        window = time_to_window(executable, env, scratch, runs) if not problems else None
        keep_shot = BUILD / "smoke-screenshot.png"
        if shot.is_file():
            keep_shot.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, keep_shot)
    record(
        "smoke",
        {
            "executable": str(executable),
            "passed": not problems,
            "self_test_s": round(seconds, 1),
            "time_to_window": window,
            "problems": problems,
        },
    )
    if problems:
        print("SMOKE TEST FAILED: " + "; ".join(problems), file=sys.stderr, flush=True)
        return 1
    print("smoke test passed", flush=True)
    return 0


# --- the command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python packaging/build.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", choices=("icons", "app", "deb", "nsis", "dmg", "smoke"))
    parser.add_argument("dir", nargs="?", type=Path, help="smoke: the folder (or executable) of the app to test")
    parser.add_argument("--no-app", action="store_true", help="installers: package the existing dist/ bundle")
    parser.add_argument("--timeout", type=float, default=300.0, help="smoke: seconds the self-test may take")
    parser.add_argument("--runs", type=int, default=5, help="smoke: launches timed for the time to window")
    args = parser.parse_args(argv)
    try:
        if args.target == "smoke":
            if args.dir is None:
                parser.error("smoke needs the folder of the app to test, e.g. dist/latent-studio")
            return smoke(args.dir, timeout=args.timeout, runs=args.runs)
        if args.target == "icons":
            build_icons()
            return 0
        systems = {"deb": ("linux", "Linux"), "nsis": ("win32", "Windows"), "dmg": ("darwin", "macOS")}
        if args.target in systems and not sys.platform.startswith(systems[args.target][0]):
            # Checked before the bundle is built: each installer packs a bundle of its own system.
            raise BuildError(f"the {args.target} target is built on {systems[args.target][1]}")
        if args.target == "deb":
            check_deb_prerequisites()
        bundle = bundle_dir()
        if args.target == "app" or not args.no_app:
            bundle = build_app()
        elif not bundle.is_dir():
            raise BuildError(f"--no-app, but there is no bundle at {bundle}")
        elif not ICONS.is_dir():
            build_icons()
        if args.target == "deb":
            print(f"built {build_deb(bundle)}")
        elif args.target == "nsis":
            print(f"built {build_nsis(bundle)}")
        elif args.target == "dmg":
            print(f"built {build_dmg()}")
        return 0
    except BuildError as exc:
        print(f"build.py {args.target}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
