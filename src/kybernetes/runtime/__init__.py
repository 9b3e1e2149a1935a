"""Container runtimes (see `api.py`): runc, process and simulated backends.

This file stays empty on purpose: the per-container shim (`shim.py`) runs as ``kybernetes.runtime.shim`` and
pays for every import made here, once per container. Import from the submodules (``runtime.api``,
``runtime.runc``, ``runtime.process``, ``runtime.simulated``, ``runtime.logs``).
"""
