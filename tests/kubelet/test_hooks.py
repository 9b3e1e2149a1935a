"""The pure parts of lifecycle hooks: which handler applies, the kubelet's failure text, the grace left."""

from __future__ import annotations

import pytest

from kybernetes.kubelet import hooks

POD = {"metadata": {"name": "web", "namespace": "prod", "uid": "u-1"}}


def test_handler_of() -> None:
    exec_ = {"exec": {"command": ["true"]}}
    assert hooks.handler_of({"lifecycle": {"preStop": exec_}}, "preStop") == exec_
    assert hooks.handler_of({"lifecycle": {"preStop": exec_}}, "postStart") is None
    assert hooks.handler_of({"lifecycle": {"postStart": {}}}, "postStart") is None
    assert hooks.handler_of({}, "postStart") is None
    assert hooks.handler_of({"lifecycle": {"preStop": {"sleep": {"seconds": 3}}}}, "preStop") is not None


@pytest.mark.parametrize(("handler", "start"), [
    ({"exec": {"command": ["sh", "-c", "exit 1"]}}, "Exec lifecycle hook ([sh -c exit 1])"),
    ({"httpGet": {"path": "/quit", "port": 80}}, "HTTP lifecycle hook (/quit)"),
    ({"httpGet": {"port": 80}}, "HTTP lifecycle hook (/)"),
    ({"tcpSocket": {"port": 80}}, "TCP lifecycle hook"),
])
def test_hook_error_text(handler: dict, start: str) -> None:
    text = hooks.hook_error(handler, "app", POD, "boom", "out")
    assert text == f'{start} for Container "app" in Pod "web_prod(u-1)" failed - error: boom, message: "out"'


@pytest.mark.parametrize(("grace", "used", "left"), [(30, 5, 25), (30, 29.5, 2), (1, 0, 2), (10, 10, 2)])
def test_remaining_grace_keeps_two_seconds(grace: float, used: float, left: float) -> None:
    assert hooks.remaining_grace(grace, used) == left
