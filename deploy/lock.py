"""Pin tracepost's dependencies, with hashes, for the container image (``make lock``).

Reads ``pyproject.toml`` and writes two requirement files that ``deploy/Dockerfile`` installs with
``pip install --require-hashes --no-deps --only-binary=:all:``:

- ``deploy/requirements.lock``: ``[project].dependencies`` and everything they need;
- ``deploy/build-requirements.lock``: ``[build-system].requires`` (what builds tracepost's wheel).

pip's own resolver does the work (``pip install --dry-run --report``), once per image
architecture (linux x86_64 and aarch64, wheels only, this interpreter's Python version), and the
hashes of every architecture's wheel are listed under one pin, so the same lock builds the image
on either. The package index is pip's (``PIP_INDEX_URL`` or its default); local find-links,
extra indexes, constraints and pip configuration files are left out, so the hashes are those of
the files the image build downloads. Run it on Linux with the Python of the image
(``deploy/Dockerfile``'s ``PYTHON_VERSION``): environment markers are evaluated for this
interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHES = ("x86_64", "aarch64")
GLIBC_MINORS = range(17, 37)
"""manylinux_2_17 … manylinux_2_36: what Debian bookworm's glibc 2.36 runs."""
DROPPED_PIP_VARIABLES = (
    "PIP_FIND_LINKS",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "PIP_REQUIREMENT",
    "PIP_NO_INDEX",
    "PIP_ONLY_BINARY",
    "PIP_NO_BINARY",
    "PIP_PLATFORM",
    "PIP_PYTHON_VERSION",
)


@dataclass
class Pin:
    """One locked distribution: its name, exact version and the sha256 of its wheels."""

    name: str
    version: str
    hashes: set[str] = field(default_factory=set)


def canonical(name: str) -> str:
    """A distribution name in its canonical form (PEP 503): lower case, runs of ``-_.`` as ``-``.

    Args:
        name: a distribution name as written anywhere.

    Returns:
        The canonical name.
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(pyproject: Path) -> tuple[list[str], list[str]]:
    """The runtime and the build requirements declared in a ``pyproject.toml``.

    Args:
        pyproject: the file.

    Returns:
        ``[project].dependencies`` and ``[build-system].requires``, as written.
    """
    data = tomllib.loads(pyproject.read_text())
    return list(data["project"]["dependencies"]), list(data["build-system"]["requires"])


def platform_flags(arch: str) -> list[str]:
    """The ``--platform`` flags of pip for manylinux wheels of one architecture.

    Args:
        arch: ``x86_64`` or ``aarch64``.

    Returns:
        The flags, newest glibc first, with the legacy ``manylinux2014`` alias.
    """
    tags = [f"manylinux_2_{minor}_{arch}" for minor in reversed(GLIBC_MINORS)]
    tags.append(f"manylinux2014_{arch}")
    return [flag for tag in tags for flag in ("--platform", tag)]


def pip_environment() -> dict[str, str]:
    """The environment for pip: this one without local package sources or pip config files.

    Returns:
        The environment variables.
    """
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_PIP_VARIABLES}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def resolve(requirements: Sequence[str], arch: str, python_version: str) -> dict[str, Pin]:
    """Resolve requirements the way pip would install them into the image.

    Args:
        requirements: PEP 508 requirement strings.
        arch: the image architecture (``x86_64`` or ``aarch64``).
        python_version: ``3.11`` and the like.

    Returns:
        Every distribution pip would install, by canonical name.

    Raises:
        RuntimeError: pip failed, or picked a file without a sha256 hash.
    """
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            *platform_flags(arch),
            *requirements,
        ]
        done = subprocess.run(  # noqa: S603 - our own interpreter's pip, arguments from pyproject
            command, env=pip_environment(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip could not resolve for {arch}:\n{done.stderr.strip()}")
        installs = json.loads(report.read_text())["install"]
    pins: dict[str, Pin] = {}
    for item in installs:
        metadata = item["metadata"]
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        if "sha256" not in hashes:
            raise RuntimeError(f"{metadata['name']}: pip reported no sha256 for {arch}")
        name = canonical(metadata["name"])
        pins[name] = Pin(name, metadata["version"], {hashes["sha256"]})
    return pins


def merge(per_arch: dict[str, dict[str, Pin]]) -> list[Pin]:
    """One pin per distribution with every architecture's hashes.

    Args:
        per_arch: each architecture's resolution.

    Returns:
        The pins, sorted by name.

    Raises:
        RuntimeError: the architectures resolved a distribution to different versions, or one
            needs a distribution the other does not (the lock would not fit both images).
    """
    merged: dict[str, Pin] = {}
    names = [set(pins) for pins in per_arch.values()]
    if any(n != names[0] for n in names):
        every: set[str] = set().union(*names)
        differing = sorted(n for n in every if not all(n in names_of for names_of in names))
        raise RuntimeError(f"the architectures need different distributions: {differing}")
    for arch, pins in per_arch.items():
        for name, pin in pins.items():
            seen = merged.setdefault(name, Pin(name, pin.version))
            if seen.version != pin.version:
                raise RuntimeError(
                    f"{name}: {seen.version} on one architecture, {pin.version} on {arch}"
                )
            seen.hashes |= pin.hashes
    return sorted(merged.values(), key=lambda p: p.name)


def render(pins: Iterable[Pin], declared: Sequence[str], source: str, python_version: str) -> str:
    """The text of a lock file.

    Args:
        pins: the locked distributions.
        declared: the requirements as pyproject.toml declares them (recorded in the header).
        source: which table of pyproject.toml they come from.
        python_version: the image's Python version.

    Returns:
        The file's text: a header, then ``name==version`` with one ``--hash`` line per wheel.
    """
    lines = [
        "# Generated by `make lock` (python deploy/lock.py) from pyproject.toml: do not edit.",
        f"# {source}, resolved for CPython {python_version} on linux {' and '.join(ARCHES)}"
        " (wheels only).",
        "# Installed by deploy/Dockerfile with pip install --require-hashes --no-deps.",
        "# declared:",
        *(f"#   {requirement}" for requirement in declared),
        "",
    ]
    for pin in pins:
        hashes = sorted(pin.hashes)
        lines.append(f"{pin.name}=={pin.version} \\")
        for i, digest in enumerate(hashes):
            lines.append(f"    --hash=sha256:{digest}" + (" \\" if i < len(hashes) - 1 else ""))
    return "\n".join(lines) + "\n"


def lock(requirements: Sequence[str], python_version: str) -> list[Pin]:
    """Resolve requirements for every image architecture and merge the results.

    Args:
        requirements: PEP 508 requirement strings.
        python_version: the image's Python version.

    Returns:
        The pins.
    """
    return merge({arch: resolve(requirements, arch, python_version) for arch in ARCHES})


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``deploy/requirements.lock`` and ``deploy/build-requirements.lock``.

    Args:
        argv: command-line arguments (``--pyproject``, ``--output-dir``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description="Pin tracepost's dependencies with hashes.")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "deploy")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print(
            "deploy/lock.py: run it on Linux (markers are evaluated for this machine), e.g. in"
            " the image's base: docker run --rm -v $PWD:/src -w /src python:3.11-slim-bookworm"
            " python deploy/lock.py",
            file=sys.stderr,
        )
        return 2
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    runtime, build = read_requirements(args.pyproject)
    outputs = {
        "requirements.lock": (runtime, "[project].dependencies"),
        "build-requirements.lock": (build, "[build-system].requires"),
    }
    try:
        texts = {
            name: render(lock(declared, python_version), declared, source, python_version)
            for name, (declared, source) in outputs.items()
        }
    except RuntimeError as exc:
        print(f"deploy/lock.py: {exc}", file=sys.stderr)
        return 1
    for name, text in texts.items():
        path = args.output_dir / name
        path.write_text(text)
        print(f"wrote {path} ({text.count('==')} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
