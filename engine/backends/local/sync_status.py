"""``status.synchronization``: the mutexes and semaphores a workflow holds and waits for.

As Argo's ``MutexStatus`` and ``SemaphoreStatus`` record them
(pkg/apis/workflow/v1alpha1/workflow_types.go, ``LockAcquired``, ``LockWaiting``,
``LockReleased``), for holders named ``<namespace>/<workflow>/<node id>`` (``getHolderKey``,
workflow/sync/sync_manager.go). A mutex waited on names its current holder; a semaphore
waited on, all of them. The record goes when the workflow completes (``ReleaseAll``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["lock_acquired", "lock_released", "lock_waiting"]


def _is_mutex(lock: str) -> bool:
    return "/Mutex/" in lock


def _record(status: dict[str, Any], lock: str) -> dict[str, Any]:
    """``ensureInit``: the workflow's record of this kind of lock."""
    sync = status.setdefault("synchronization", {})
    record: dict[str, Any] = sync.setdefault("mutex" if _is_mutex(lock) else "semaphore", {})
    return record


def lock_acquired(status: dict[str, Any], holder: str, lock: str) -> None:
    record = _record(status, lock)
    holding = record.setdefault("holding", [])
    if _is_mutex(lock):
        entry = next((h for h in holding if h.get("mutex") == lock), None)
        if entry is None:
            holding.append({"mutex": lock, "holder": holder})
        else:
            entry["holder"] = holder
        return
    entry = next((h for h in holding if h.get("semaphore") == lock), None)
    if entry is None:
        holding.append({"semaphore": lock, "holders": [holder]})
    elif holder not in entry.setdefault("holders", []):
        entry["holders"].append(holder)
    waiting = record.get("waiting") or []
    for entry in waiting:
        if entry.get("semaphore") == lock and holder in (entry.get("holders") or []):
            entry["holders"].remove(holder)
    record["waiting"] = [w for w in waiting if w.get("holders")]
    if not record["waiting"]:
        record.pop("waiting")


def lock_waiting(status: dict[str, Any], lock: str, holders: list[str]) -> None:
    record = _record(status, lock)
    if _is_mutex(lock):
        if not holders:
            return
        waiting = record.setdefault("waiting", [])
        entry = next((w for w in waiting if w.get("mutex") == lock), None)
        if entry is None:
            waiting.append({"mutex": lock, "holder": holders[0]})
        else:
            entry["holder"] = holders[0]
        return
    waiting = record.setdefault("waiting", [])
    entry = next((w for w in waiting if w.get("semaphore") == lock), None)
    if entry is None:
        waiting.append({"semaphore": lock, "holders": list(holders)})
    else:
        entry["holders"] = list(holders)


def lock_released(status: dict[str, Any], holder: str, lock: str) -> None:
    record = (status.get("synchronization") or {}).get("mutex" if _is_mutex(lock) else "semaphore")
    if not record:
        return
    holding = record.get("holding") or []
    if _is_mutex(lock):
        record["holding"] = [
            h for h in holding if not (h.get("mutex") == lock and h.get("holder") == holder)
        ]
    else:
        for entry in holding:
            if entry.get("semaphore") == lock and holder in (entry.get("holders") or []):
                entry["holders"].remove(holder)
                if not entry["holders"]:
                    entry.pop("holders")  # an empty list, omitted as Go omits it
    if not record["holding"]:
        record.pop("holding")
