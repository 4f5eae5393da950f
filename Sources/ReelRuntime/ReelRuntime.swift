// ReelRuntime: see docs/DESIGN.md for what belongs here.
