"""Agnes domain core: registry, access, connectors, caches and the gate.

This package runs inside the Jupyter server process but imports neither tornado
nor jupyter: the server extension (``agnes_server``) is a thin layer over it, and
a test enforces the boundary.
"""
