"""The node agent: node registration, status and Lease heartbeat (``node``), shared by the
simulated agent (``simulated``, KWOK-like: no containers) and the container-running agent to come.

Like every component, it talks to the API server only through :mod:`kybernetes.client`.
"""
