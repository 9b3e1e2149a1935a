"""The cluster CA persists in the data dir; kubeconfigs resolve to a server URL or a clear error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from kybernetes.apiserver.pki import ensure_ca
from kybernetes.apiserver.server import write_kubeconfig
from kybernetes.client.config import KubeconfigError, server_url


def test_ca_is_created_once_and_kept(tmp_path: Path) -> None:
    pem = ensure_ca(tmp_path)
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    assert ensure_ca(tmp_path) == pem


def test_server_url_from_written_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "config"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: other, cluster: {server: https://x}}]\n"
                  "contexts: [{name: other, context: {cluster: other}}]\ncurrent-context: other\n")
    write_kubeconfig(kc, "http://127.0.0.1:1234")
    assert server_url(kc) == "http://127.0.0.1:1234"
    assert server_url(kc, "other") == "https://x"  # what was there is kept


@pytest.mark.parametrize(("text", "message"), [
    (None, "does not exist"),
    ("[1, 2]", "is not a kubeconfig"),
    ("kind: Config\n", "no current-context"),
    ("current-context: a\ncontexts: []\n", 'context "a" not found'),
    ("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]\n",
     "has no server address"),
])
def test_bad_kubeconfigs(tmp_path: Path, text: str | None, message: str) -> None:
    kc = tmp_path / "config"
    if text is not None:
        kc.write_text(text)
    with pytest.raises(KubeconfigError, match=message):
        server_url(kc)
