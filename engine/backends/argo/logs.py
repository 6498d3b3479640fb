"""Argo's log stream (``GET .../{name}/log``): one JSON object per line, parsed incrementally.

Hera's ``workflow_logs`` calls ``resp.json()`` on the whole body and fails on the second line;
here every line is its own ``{"result": {"content", "podName"}}`` frame. With
``logOptions.timestamps`` each content starts with the RFC 3339 time the kubelet recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.backends.argo.pod_names import node_id_of_pod
from engine.backends.argo.stream_frames import StreamError, parse_frame
from engine.backends.base import LogLine
from engine.errors import BackendError

__all__ = ["parse_log_lines", "split_timestamp"]


def split_timestamp(content: str) -> tuple[str | None, str]:
    """``"2024-05-01T10:00:00.123Z hello"`` → (time, "hello"); content without one is kept."""
    head, sep, rest = content.partition(" ")
    if sep and len(head) >= 20 and head[4] == "-" and head[10] == "T" and head[-1] == "Z":
        return head, rest
    return None, content


def parse_log_lines(
    lines: Iterable[str], *, workflow: str, timestamps: bool = True
) -> Iterator[LogLine]:
    """Stream lines → :class:`LogLine` per printed line; an error frame raises BackendError."""
    for line in lines:
        frame = parse_frame(line)
        if frame is None:
            continue
        if isinstance(frame, StreamError):
            raise BackendError(f"log stream of {workflow} failed: {frame.message}")
        content = str(frame.value.get("content") or "")
        pod = str(frame.value.get("podName") or "")
        time, text = split_timestamp(content) if timestamps else (None, content)
        yield LogLine(pod=node_id_of_pod(workflow, pod), content=text, time=time)
