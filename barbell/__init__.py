"""The `barbell` command line: the only layer that wires hardware, edge and server together."""
