"""The cluster CA: created once in the data dir, kept across restarts.

Today it is what the root CA publisher puts in every namespace's
``kube-root-ca.crt``; serving TLS and signing client certificates with it
comes with authentication.  The key never leaves the data dir (mode 0600).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"


def ensure_ca(data_dir: Path, common_name: str = "kybernetes-ca") -> str:
    """The CA certificate (PEM), generating the CA on first use."""
    cert_path, key_path = data_dir / CA_CERT, data_dir / CA_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path.read_text()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .sign(key, hashes.SHA256())
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path.write_text(pem)
    return pem
