"""Runbook "Volume usage": the total that `du -sh /var/lib/docker` prints."""

from __future__ import annotations

import re

from handlers.artifacts import VolumeUsage

_DU = re.compile(r"^\s*(\S+)\s+(\S.*?)\s*$", re.MULTILINE)
_DU_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


def parse_du(stdout: str, path: str) -> VolumeUsage | None:
    """The total line of ``du -sh <path>``: '1.2G\t/var/lib/docker'."""
    found = [m for m in _DU.finditer(stdout) if m[2] == path]
    if not found:
        return None
    human = found[-1][1]
    m = re.fullmatch(r"([\d.]+)([BKMGTP]?)", human.upper())
    size = int(float(m[1]) * _DU_UNITS[m[2]]) if m else None
    return VolumeUsage(path=path, human=human, bytes=size)
