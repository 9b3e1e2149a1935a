"""Container runtimes (see `api.py`): runc, process and simulated backends."""
