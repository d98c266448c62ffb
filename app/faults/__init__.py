"""Fault injection: rules set through the control API, applied by every face in its real failure shape."""
