"""Root CA publisher: the pure plan, and end to end a ``kube-root-ca.crt`` ConfigMap (the CA given, here
a self-signed one made with ``cryptography``) in new namespaces, recreated when deleted, repaired when
edited."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kybernetes.client.rest import Client
from kybernetes.controllers.rootca import (
    CONFIGMAP,
    DESCRIPTION,
    DESCRIPTION_ANNOTATION,
    RootCAPublisher,
    plan,
)
from tests.controllers.conftest import get_or_none
from tests.kubelet.helpers import TEST_LABEL, poll, running

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


ACTIVE = {"metadata": {"name": "a"}, "status": {"phase": "Active"}}
GOOD = {"metadata": {"name": CONFIGMAP, "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
        "data": {"ca.crt": "PEM"}}


@pytest.mark.parametrize("ns,existing,action", [
    (ACTIVE, None, "create"),
    ({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}, None, "none"),
    (ACTIVE, GOOD, "none"),
    (ACTIVE, {**GOOD, "data": {"ca.crt": "OLD"}}, "update"),
    (ACTIVE, {**GOOD, "data": {"ca.crt": "PEM", "extra": "x"}}, "update"),
    (ACTIVE, {"metadata": {"name": CONFIGMAP}, "data": {"ca.crt": "PEM"}}, "update"),
], ids=["missing", "terminating", "right", "wrong-ca", "extra-key", "no-annotation"])
def test_plan(ns: Obj, existing: Obj | None, action: str) -> None:
    got, body = plan(ns, existing, "PEM")
    assert got == action
    if body is not None:
        assert body["data"] == {"ca.crt": "PEM"}
        assert body["metadata"]["annotations"][DESCRIPTION_ANNOTATION] == DESCRIPTION


async def test_configmap_published_recreated_and_repaired(client: Client, unique: str, ca_pem: str) -> None:
    ns = f"{unique}-ca"
    path = f"/api/v1/namespaces/{ns}/configmaps/{CONFIGMAP}"
    publisher = RootCAPublisher(client, ca_pem, namespace_selector=f"{TEST_LABEL}={unique}")
    try:
        async with running(publisher):
            await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": ns, "labels": {TEST_LABEL: unique}}})
            cm = await poll(lambda: get_or_none(client, path), "the ConfigMap", timeout=5)
            assert cm["data"] == {"ca.crt": ca_pem}
            assert cm["metadata"]["annotations"][DESCRIPTION_ANNOTATION] == DESCRIPTION
            x509.load_pem_x509_certificate(cm["data"]["ca.crt"].encode())

            cm["data"] = {"ca.crt": "tampered"}
            await client.update(path, cm)

            async def repaired() -> bool:
                got = await get_or_none(client, path)
                return bool(got and got["data"] == {"ca.crt": ca_pem})
            await poll(repaired, "the ConfigMap to be repaired", timeout=5)

            await client.delete(path)
            await poll(repaired, "the ConfigMap to be recreated", timeout=5)
    finally:
        await client.delete(f"/api/v1/namespaces/{ns}")
