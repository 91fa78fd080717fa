"""Sample contexts of the mails, for previews and tests.

`templates/emails/_samples/base.yaml` holds one person per track in the exact
shape the mailer passes; each mail's `sample.yaml` is merged over it (`all`
for both tracks, then `ae` or `ti`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

SAMPLE_PUBLIC_URL = "http://127.0.0.1:8000"

Track = Literal["ae", "ti"]


def load_sample(templates_dir: Path, name: str, track: Track) -> dict[str, Any]:
    """The sample context of mail `name` for `track`."""
    base = _read_yaml(templates_dir / "_samples" / "base.yaml")
    if track not in base:
        raise ValueError(f"no sample person for track {track!r}")
    context = copy.deepcopy(dict(base[track]))
    own_path = templates_dir / name / "sample.yaml"
    own = _read_yaml(own_path) if own_path.exists() else {}
    for key in ("all", track):
        overlay = own.get(key) or {}
        if not isinstance(overlay, Mapping):
            raise ValueError(f"{own_path}: '{key}' must be a mapping")
        _merge(context, overlay)
    return context


def with_public_url(context: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    """The context with every sample link moved from the sample URL to `public_url`."""
    base = public_url.rstrip("/")

    def move(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SAMPLE_PUBLIC_URL):
            return base + value[len(SAMPLE_PUBLIC_URL) :]
        if isinstance(value, Mapping):
            return {key: move(item) for key, item in value.items()}
        if isinstance(value, list):
            return [move(item) for item in value]
        return value

    moved: dict[str, Any] = move(context)
    return moved


def _merge(target: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    for key, value in overlay.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            target[key] = copy.deepcopy(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a sample file must be a mapping")
    return data
