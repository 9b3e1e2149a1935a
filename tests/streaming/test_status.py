"""The error-channel Status payloads, byte for byte as the kubelet writes them."""

from __future__ import annotations

from kybernetes.streaming.status import (
    encode_for_protocol,
    encode_status,
    error_status,
    exec_result_status,
    exit_code_of,
    go_slice,
)


def test_non_zero_exit_bytes() -> None:
    assert encode_status(exec_result_status(["sh", "-c", "exit 3"], 3)) == (
        b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: '
        b'error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",'
        b'"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}')


def test_success_bytes_and_old_protocols() -> None:
    ok = exec_result_status(["true"], 0)
    assert encode_status(ok) == b'{"metadata":{},"status":"Success"}'
    assert encode_for_protocol("v5.channel.k8s.io", ok) == encode_status(ok)
    assert encode_for_protocol("channel.k8s.io", ok) == b""
    assert encode_for_protocol("v3.channel.k8s.io", error_status("boom")) == b"boom"


def test_exit_code_of() -> None:
    assert exit_code_of(b"") == 0
    assert exit_code_of(encode_status(exec_result_status(["x"], 0))) == 0
    assert exit_code_of(encode_status(exec_result_status(["x"], 42))) == 42
    assert exit_code_of(encode_status(error_status("nope"))) is None
    assert go_slice([]) == "[]"
