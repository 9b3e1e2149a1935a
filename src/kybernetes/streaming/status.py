"""The Status objects an exec/attach stream reports on its error channel.

From protocol v4 (SPDY ``v4.channel.k8s.io``, WebSocket ``v4``/``v5``) the error channel carries one
``metav1.Status`` as JSON, written exactly once and followed by closing the channel:

* success: ``{"metadata":{},"status":"Success"}``
* non-zero exit: ``status`` ``Failure``, ``reason`` ``NonZeroExitCode``, ``message`` "command terminated with
  non-zero exit code: error executing command [sh -c exit 3], exit code 3" (the container runtime's error text,
  with the command printed like a Go slice) and one cause ``{"reason":"ExitCode","message":"3"}``; kubectl exits
  with that code.
* any other failure: ``Failure`` with ``reason`` ``InternalError`` and the message; kubectl prints it.

Older protocols (``channel.k8s.io``, v2, v3) carry a bare error message instead, and no message means success.
Serialisation is compact (Go's ``encoding/json``) with keys in the Go field order.
"""

from __future__ import annotations

import json
from typing import Any

NON_ZERO_EXIT_REASON = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


def go_slice(items: list[str]) -> str:
    """A list formatted the way Go's ``%v`` prints a ``[]string``."""
    return "[" + " ".join(items) + "]"


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(command: list[str], code: int) -> dict[str, Any]:
    message = f"error executing command {go_slice(command)}, exit code {code}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {message}",
        "reason": NON_ZERO_EXIT_REASON,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def error_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


def exec_result_status(command: list[str], exit_code: int) -> dict[str, Any]:
    return success_status() if exit_code == 0 else exit_code_status(command, exit_code)


def encode_status(status: dict[str, Any]) -> bytes:
    return json.dumps(status, separators=(",", ":")).encode()


def encode_for_protocol(protocol: str, status: dict[str, Any]) -> bytes:
    """What to write on the error channel for this negotiated protocol (b"" means: write nothing)."""
    if protocol.startswith(("v4.", "v5.")):
        return encode_status(status)
    return b"" if status.get("status") == "Success" else str(status.get("message", "")).encode()


def exit_code_of(raw: bytes) -> int | None:
    """Client side: the exit code a v4 error-channel payload reports (0 success, None not an exit)."""
    if not raw.strip():
        return 0
    status = json.loads(raw)
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == NON_ZERO_EXIT_REASON:
        for cause in status.get("details", {}).get("causes", []):
            if cause.get("reason") == EXIT_CODE_CAUSE:
                return int(cause["message"])
    return None
