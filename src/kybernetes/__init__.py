"""Kybernetes: Kubernetes written in Python.

Packages mirror the Kubernetes components (see docs/architecture.md):
``api`` (pure object logic), ``storage`` (etcd-shaped key-value backends),
``apiserver`` (the HTTP front end), ``client``, ``controllers`` and ``cli``.
"""

__version__ = "0.1.0"

# The Kubernetes API version this server speaks (schemas, discovery, /version).
KUBERNETES_VERSION = "1.33.0"
