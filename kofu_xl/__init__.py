"""kofu-xl: My Number Card issuance smoothing plan tools."""
