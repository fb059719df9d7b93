"""Install the `uv` binary from its wheel on PyPI with nothing but the standard library.

`make` runs this when `python3 -m venv` cannot make an environment with pip (Debian and Ubuntu
without the python3-venv package): it picks the wheel of `uv==VERSION` for this machine from the
package index's JSON simple API (PEP 691; `UV_BOOTSTRAP_INDEX`, default PyPI), checks its sha256
against the one the index lists, and writes the `uv` executable it contains to DEST.
Usage: python3 scripts/install_uv.py VERSION DEST_DIR
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
import urllib.request
import zipfile

INDEX = os.environ.get("UV_BOOTSTRAP_INDEX", "https://pypi.org/simple").rstrip("/")


def wheel_tag_words() -> list[str]:
    """Words the wheel's file name must contain for this OS, C library and CPU."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    system = platform.system()
    if system == "Linux":
        libc = "manylinux" if platform.libc_ver()[0] == "glibc" else "musllinux"
        return [libc, machine]
    if system == "Darwin":
        return ["macosx", "arm64" if machine == "aarch64" else machine]
    raise SystemExit(f"install_uv: no uv wheel for {system} {machine}; install uv yourself")


def _https(url: str) -> str:
    if not url.startswith("https://"):
        raise SystemExit(f"install_uv: refusing a URL that is not https: {url}")
    return url


def main(version: str, dest: str) -> None:
    request = urllib.request.Request(  # noqa: S310  (https only, checked by _https)
        _https(f"{INDEX}/uv/"), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        files = json.load(response)["files"]
    words = wheel_tag_words()
    wheels = [
        item
        for item in files
        if item["filename"].startswith(f"uv-{version}-")
        and item["filename"].endswith(".whl")
        and all(w in item["filename"] for w in words)
    ]
    if not wheels:
        raise SystemExit(f"install_uv: the index has no uv {version} wheel matching {words}")
    wheel = wheels[0]
    with urllib.request.urlopen(_https(wheel["url"]), timeout=300) as response:  # noqa: S310
        data = response.read()
    if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
        raise SystemExit(f"install_uv: {wheel['filename']} does not match the index's sha256")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
        binary = archive.read(member)
    os.makedirs(dest, exist_ok=True)
    target = os.path.join(dest, "uv")
    with open(target, "wb") as out:
        out.write(binary)
    os.chmod(target, 0o755)  # noqa: S103  (an executable, like pip would install it)
    print(f"installed uv {version} ({wheel['filename']}) to {target}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
