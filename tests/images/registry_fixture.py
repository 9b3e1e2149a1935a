"""Real registries for the registry-client tests: Debian's ``docker-registry`` (distribution v2.8) on loopback.

* `RegistryProc` runs the binary with a generated config (filesystem storage in a temp dir, deletes enabled,
  ``http.addr`` on 127.0.0.1 and a free port), waits until ``/v2/`` answers, and stops it by PID.
* `TokenServer` is a small aiohttp token endpoint in its own thread and event loop, so it can outlive one
  test's loop. It signs ES256 JWTs with a P-256 key whose self-signed certificate is the registry's
  ``rootcertbundle``; the token header carries the certificate as ``x5c``, which distribution verifies against
  that bundle. Known users get the actions they ask for; anonymous callers get a token with no access (as
  Docker Hub does for a private repository); a wrong password gets Docker Hub's ``401 {"details": ...}``.
* `htpasswd_line` makes a bcrypt line for the ``htpasswd`` auth variant with libxcrypt (the stdlib ``crypt``
  module); `HAVE_BCRYPT` says whether that works here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegistryProc:
    """One ``docker-registry serve`` process; ``auth`` is the config's ``auth:`` section (None: open)."""

    def __init__(self, base: Path, auth: dict[str, Any] | None = None) -> None:
        self.base = base
        self.storage = base / "storage"
        self.auth = auth
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = base / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def blob_data(self, digest: str) -> Path:
        """Where filesystem storage keeps a blob's bytes."""
        hex_ = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    def start(self, timeout: float = 15.0) -> RegistryProc:
        self.storage.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a free port can be taken between probing and binding; try another
            self.port = free_port()
            config: dict[str, Any] = {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {"filesystem": {"rootdirectory": str(self.storage)}, "delete": {"enabled": True}},
                "http": {"addr": self.host, "secret": uuid.uuid4().hex},
            }
            if self.auth:
                config["auth"] = self.auth
            cfg = self.base / "config.yml"
            cfg.write_text(yaml.safe_dump(config))
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"docker-registry did not start:\n{self.log()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True  # 401 from an auth-enabled registry: it is serving
            except OSError:
                time.sleep(0.02)
        return False

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-4000:]
        return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A Docker token endpoint (``GET /token?service=&scope=``) for a token-auth registry."""

    def __init__(self, base: Path, users: dict[str, str], service: str = "kyb-test-registry",
                 issuer: str = "kyb-test-issuer") -> None:
        self.users = users
        self.service = service
        self.issuer = issuer
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kyb test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.cert_path = base / "token-root.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> dict[str, Any]:
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert_path)}}

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    async def _token(self, request: web.Request) -> web.Response:
        scopes = request.query.getall("scope", [])
        self.requests.append({"scopes": scopes, "service": request.query.get("service")})
        subject = ""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(user) != password:
                return web.json_response({"details": "incorrect username or password"}, status=401)
            subject = user
        access = []
        for scope in scopes if subject else []:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        token = self.sign({"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300,
                           "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access})
        return web.json_response({"token": token, "access_token": token, "expires_in": 300})

    def start(self) -> TokenServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("token server did not start")
        return self

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/token", self._token)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def htpasswd_line(user: str, password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # stdlib until 3.13; libxcrypt does bcrypt

        # cost 4: the registry checks the hash on every request, and the default cost 12 takes ~0.3 s
        return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}"


def _have_bcrypt() -> bool:
    try:
        return htpasswd_line("u", "p").split(":", 1)[1].startswith("$2")
    except Exception:
        return False


HAVE_BCRYPT = _have_bcrypt()
