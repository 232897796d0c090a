"""SPIFEB: the command line and the tools people run (synthetic extracts, pseudonymisation)."""
