"""Postgres advisory lock keys (bigint) used across processes. No imports on purpose."""

REFRESH = 7_302_118_002


def pg_locks_key(key: int) -> tuple[int, int]:
    """(classid, objid) under which pg_locks shows a bigint advisory lock."""
    return key >> 32, key & 0xFFFFFFFF
