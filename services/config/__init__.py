"""The settings (`PM_*`) and the service's version: read by every layer, import nothing of
ours."""
