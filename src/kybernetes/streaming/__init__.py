"""Streaming protocols for exec, attach and port-forward: SPDY/3.1 and the Kubernetes WebSocket channels."""
