"""Small helpers shared by the emulator modules."""
import datetime as _dt
import json
from zoneinfo import ZoneInfo

UTC = _dt.timezone.utc


class ApiError(Exception):
    """An HTTP error answer.  ``body`` is a dict/list (sent as JSON), a str
    (sent as ``ctype``) or None (empty body)."""

    def __init__(self, status, body=None, headers=None, ctype=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.ctype = ctype


def err(status, messages=(), errors=None, headers=None):
    """Jira's ErrorCollection: ``{"errorMessages": [...], "errors": {...}}``."""
    return ApiError(status, {"errorMessages": list(messages), "errors": dict(errors or {})},
                    headers)


def not_found_issue():
    return err(404, ["Issue does not exist or you do not have permission to see it."])


def to_ms(dt):
    return int(round(dt.timestamp() * 1000))


def from_ms(ms, tz=UTC):
    return _dt.datetime.fromtimestamp(ms / 1000.0, tz)


def fmt_ts(ms, tz):
    """Jira's timestamp format: ``2024-01-02T03:04:05.678+0000``."""
    if ms is None:
        return None
    d = from_ms(ms, tz)
    off = d.strftime("%z") or "+0000"
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (d.microsecond // 1000) + off


def parse_ts(s):
    """Parse Jira's timestamp format (or ISO 8601) to epoch milliseconds."""
    if s is None:
        return None
    if isinstance(s, (int, float)):
        return int(s)
    t = s.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+0000"
    # +0100 -> +01:00 for fromisoformat
    if len(t) > 5 and t[-5] in "+-" and t[-4:].isdigit():
        t = t[:-2] + ":" + t[-2:]
    d = _dt.datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return to_ms(d)


def zone(name):
    try:
        return ZoneInfo(name or "UTC")
    except Exception:  # noqa: BLE001 - unknown zone name: fall back to UTC
        return ZoneInfo("UTC")


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def deep_merge(base, patch):
    """Merge ``patch`` into ``base`` (dicts recursively; everything else replaced)."""
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v
    return base
