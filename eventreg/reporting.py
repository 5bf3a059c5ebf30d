"""
Audit reports of one model: JSON, CSV and a self-contained HTML page.

:func:`build_report` gathers, from the log, a model's timeline of promotions and
rollbacks in a period and the lineage of each of its versions as they stood at the end
of the period (data digest, code commit, params, metrics, who and when), plus the log's
head so a reader can prove the report's source later. :func:`render` writes it in one
format. The HTML page has inline CSS, no scripts and no external assets, and every value
in it is escaped: a model called ``<script>`` is shown, never run. Metric histories are
small inline SVG charts with a table of the points.

The HTML page carries its own digest: the sha256 of every byte after its
:data:`BODY_MARKER` line, printed above that line. ``sed '1,/^<!-- eventreg report body/d'
report.html | sha256sum`` recomputes it; :func:`check_digest` does the same in Python.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from eventreg.errors import ValidationError
from eventreg.log import format_timestamp, now
from eventreg.reproduce import reproductions
from eventreg.timetravel import describe, parse_moment

FORMATS = ("json", "csv", "html")
_MOVES = ("alias.promoted", "alias.rolled_back")
#: The line after which the HTML report's digested body starts.
BODY_MARKER = "<!-- eventreg report body: its sha256 is the report digest above -->"
_DIGEST = re.compile(r"Report digest <code>sha256:([0-9a-f]{64})</code>")
NOT_RECORDED = "not recorded"


def build_report(registry: Any, model: str, *, since: Any = None, until: Any = None) -> dict[str, Any]:
    """
    The report's data as a JSON-ready dict.

    Raises:
        NotFound: the model does not exist at ``until``.
        ValidationError: a moment is invalid.
    """
    start = None if since is None else parse_moment(since)
    end = None if until is None else parse_moment(until)
    view = registry if end is None else registry.as_of(end)
    found = view.get_model(model)
    events = view.history(model, since=start)
    timeline = [{
        "position": e.position, "at": _time(e.recorded_at), "action": "promote" if e.type == _MOVES[0] else "rollback",
        "alias": e.alias, "version": e.version, "previous": e.payload.get("previous"), "actor": e.actor,
        "reason": e.reason, "forced": bool(e.payload.get("forced")),
    } for e in events if e.type in _MOVES]
    versions = []
    for v in view.list_versions(model):
        histories = {key: _points(view.get_metric_history(model, v.version, key)) for key in sorted(v.metrics)}
        data = v.data or {}
        code = v.code or {}
        versions.append({
            "version": v.version, "label": v.label, "status": v.status, "aliases": list(v.aliases),
            "registered_at": _time(v.created_at), "registered_by": v.actor, "position": v.position,
            "description": v.description, "run_id": v.run_id, "parents": list(v.parents),
            "data_uri": data.get("uri") or _datasets(data, "uri"),
            "data_digest": data.get("digest") or _datasets(data, "digest"), "data": v.data,
            "code_repo": code.get("repo") or code.get("url"), "code_commit": code.get("commit"),
            "code_dirty": code.get("dirty"), "code": v.code,
            "params": v.params, "metrics": v.metrics, "metric_history": histories, "tags": v.tags,
            "architecture": v.architecture, "environment": v.environment,
            "artifacts": {path: {"sha256": e.sha256, "size": e.size} for path, e in sorted(v.artifacts.items())},
            "reproductions": [r.to_json() for r in reproductions(view, model, v.version)],
        })
    head = view.head()
    return {
        "report": "eventreg audit report",
        "generated_at": _time(now()),
        "model": {"name": found.name, "description": found.description, "status": found.status,
                  "tags": found.tags, "created_at": _time(found.created_at), "created_by": found.actor,
                  "aliases": found.aliases},
        "period": {"since": None if start is None else describe(start),
                   "until": None if end is None else describe(end)},
        "log": {"url": _safe_url(registry), "head_position": head.position, "head_hash": head.hash,
                "head": str(head)},
        "timeline": timeline,
        "versions": versions,
        "events": [{"position": e.position, "at": _time(e.recorded_at), "actor": e.actor, "type": e.type,
                    "summary": e.summary, "reason": e.reason, "hash": e.hash} for e in events],
        # signed decisions on requests (eventreg.governance): printed name, date and time, meaning
        "signatures": [{"printed_name": s.printed_name, "actor": s.actor, "at": _time(s.signed_at),
                        "meaning": s.meaning, "request_id": s.request_id, "alias": s.alias, "version": s.version,
                        "position": s.position, "key_id": s.key_id} for s in view.signatures(found.name)],
    }


def _datasets(data: Any, key: str) -> str | None:
    """
    ``name=value; ...`` of one key of each logged dataset (``data["datasets"]``), or None.
    """
    datasets = data.get("datasets") if isinstance(data, dict) else None
    if not isinstance(datasets, dict) or not datasets:
        return None
    return "; ".join(f"{name}={d.get(key)}" for name, d in sorted(datasets.items()) if isinstance(d, dict))


def _points(history: Any) -> list[dict[str, Any]]:
    return [{"value": p.value, "step": p.step, "at": _time(p.timestamp)} for p in history]


def check_digest(text: str) -> bool:
    """
    Whether an HTML report's body still has the digest printed in it.

    Raises:
        ValidationError: the text is not an eventreg HTML report with a digest.
    """
    found = _DIGEST.search(text)
    head, marker, body = text.partition(BODY_MARKER + "\n")
    if found is None or not marker:
        raise ValidationError("not an eventreg HTML report with a digest")
    return hashlib.sha256(body.encode("utf-8")).hexdigest() == found.group(1)


def render(data: dict[str, Any], format: str) -> str:
    """
    The report as text in ``format`` (``json``, ``csv`` or ``html``).

    Raises:
        ValidationError: an unknown format.
    """
    if format == "json":
        return json.dumps(_jsonable(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if format == "csv":
        return _csv(data)
    if format == "html":
        return _html(data)
    raise ValidationError(f"unknown report format {format!r}; use one of {', '.join(FORMATS)}")


# -- helpers --------------------------------------------------------------------------------


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment.astimezone(timezone.utc))


def _safe_url(registry: Any) -> str | None:
    from eventreg.config import redact_url

    log = getattr(registry, "log", None) or getattr(getattr(registry, "_registry", None), "log", None)
    return redact_url(log.url) if log is not None else None


def _jsonable(value: Any) -> Any:
    """
    NaN and infinities as strings, so the JSON is standard.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _compact(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if isinstance(value, float) and not math.isfinite(value):
        return str(_jsonable(value))
    return str(value)


_CSV_COLUMNS = ["section", "model", "position", "at", "actor", "action", "alias", "version", "previous",
                "reason", "label", "status", "data_uri", "data_digest", "code_repo", "code_commit",
                "code_dirty", "run_id", "params", "metrics", "tags"]


def _csv(data: dict[str, Any]) -> str:
    """
    One table: ``timeline`` rows (alias moves) then ``version`` rows (lineage).
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, _CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    name = data["model"]["name"]
    for move in data["timeline"]:
        row = {"section": "timeline", "model": name, **{k: move.get(k) for k in (
            "position", "at", "actor", "action", "alias", "version", "previous", "reason")}}
        writer.writerow({k: _guard(_compact(val)) for k, val in row.items()})
    for v in data["versions"]:
        row = {"section": "version", "model": name, "position": v["position"], "at": v["registered_at"],
               "actor": v["registered_by"], "action": "register", "version": v["version"]}
        for key in ("label", "status", "data_uri", "data_digest", "code_repo", "code_commit", "code_dirty",
                    "run_id", "params", "metrics", "tags"):
            row[key] = _compact(v.get(key))
        writer.writerow({k: _guard(_compact(val)) for k, val in row.items()})
    return out.getvalue()


def _guard(text: str) -> str:
    """
    Defuse spreadsheet formulas: a cell starting with = + - @ gets a leading quote.
    """
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2328;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.meta{color:#59636e}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;
word-break:break-all}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}
.timeline{list-style:none;padding-left:0;border-left:3px solid #d0d7de;margin-left:.5rem}
.timeline li{margin:0 0 .8rem 0;padding-left:1rem;position:relative}
.timeline li:before{content:"";position:absolute;left:-8px;top:5px;width:11px;height:11px;border-radius:50%;
background:#1a7f37}
.timeline li.rollback:before{background:#cf222e}.badge{display:inline-block;padding:0 6px;border-radius:8px;
font-size:12px;background:#ddf4ff}.rollback .badge{background:#ffebe9}
.version{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:.8rem 0}
.chart{display:block;margin:.3rem 0;background:#f6f8fa;border:1px solid #d0d7de}
"""


def _e(value: Any) -> str:
    return html.escape(_compact(value), quote=True)


def _v(value: Any) -> str:
    """
    A table cell: the value, or "not recorded" (never an empty cell).
    """
    if value is None or value == "" or value == {} or value == []:
        return f"<span class='meta'>{NOT_RECORDED}</span>"
    return _e(value)


def _kv(mapping: dict[str, Any] | None, empty: str = "none") -> str:
    if not mapping:
        return f"<p class='meta'>{empty}</p>"
    rows = "".join(f"<tr><th>{_e(k)}</th><td class='mono'>{_v(v)}</td></tr>" for k, v in sorted(mapping.items()))
    return f"<table>{rows}</table>"


def _chart(points: list[dict[str, Any]]) -> str:
    """
    A small inline SVG line of a metric's finite values, in the order logged.
    """
    values = [(i, p["value"]) for i, p in enumerate(points)
              if isinstance(p["value"], (int, float)) and math.isfinite(p["value"])]
    if len(values) < 2:
        return ""
    width, height, pad = 240, 60, 4
    low, high = min(v for _, v in values), max(v for _, v in values)
    span_x, span_y = (len(points) - 1) or 1, (high - low) or 1.0
    xy = " ".join(f"{pad + (width - 2 * pad) * i / span_x:.1f},"
                  f"{height - pad - (height - 2 * pad) * (v - low) / span_y:.1f}" for i, v in values)
    return (f"<svg class='chart' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img'>"
            f"<title>{len(values)} points from {_e(values[0][1])} to {_e(values[-1][1])}</title>"
            f"<polyline fill='none' stroke='#0969da' stroke-width='1.5' points='{xy}'/></svg>")


def _history_html(histories: dict[str, list[dict[str, Any]]]) -> str:
    if not histories:
        return f"<p class='meta'>{NOT_RECORDED}</p>"
    parts = []
    for key, points in histories.items():
        rows = "".join(f"<tr><td>{_v(p['step'])}</td><td class='mono'>{_v(p['value'])}</td><td>{_v(p['at'])}</td></tr>"
                       for p in points)
        parts.append(f"<h5>{_e(key)} ({len(points)} point{'s' if len(points) != 1 else ''})</h5>{_chart(points)}"
                     f"<table><tr><th>step</th><th>value</th><th>at (UTC)</th></tr>{rows}</table>")
    return "".join(parts)


def _flat(value: Any, prefix: str = "") -> dict[str, Any] | None:
    """
    Every key of a nested record (data, environment, architecture) as ``a.b`` rows;
    a list of records (several datasets) numbered ``1.uri``, ``2.uri`` ...
    """
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        out: dict[str, Any] = {}
        for index, item in enumerate(value, 1):
            out.update(_flat(item, f"{prefix}{index}.") or {})
        return out
    if not isinstance(value, dict):
        return {prefix.rstrip(".") or "value": value}
    out = {}
    for key, item in value.items():
        if isinstance(item, dict) and item and key != "packages":
            out.update(_flat(item, f"{prefix}{key}.") or {})
        else:
            out[f"{prefix}{key}"] = item
    return out


def _html(data: dict[str, Any]) -> str:
    body = _html_body(data)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    m = data["model"]
    head = "\n".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Audit report: {_e(m['name'])}</title><style>{_CSS}</style></head><body>",
        f"<p class='meta'>Report digest <code>sha256:{digest}</code>: the sha256 of every byte after "
        "the next line. Check it with <code>sed '1,/^&lt;!-- eventreg report body/d' REPORT.html | "
        "sha256sum</code>.</p>",
        BODY_MARKER,
    ])
    return head + "\n" + body


def _html_body(data: dict[str, Any]) -> str:
    m = data["model"]
    period = data["period"]
    span = f"from {period['since'] or 'the beginning'} to {period['until'] or 'now'}"
    parts = [
        f"<h1>Audit report: {_e(m['name'])}</h1>",
        f"<p class='meta'>{_e(span)} &middot; generated {_e(data['generated_at'])} &middot; "
        f"status {_e(m['status'])} &middot; created {_e(m['created_at'])} by {_e(m['created_by'])}</p>",
    ]
    if m.get("description"):
        parts.append(f"<p>{_e(m['description'])}</p>")
    log = data["log"]
    parts.append(f"<p>Log {_e(log['url'])}, head <code>{_e(log['head'])}</code>. Prove this report's "
                 f"source unchanged with <code>eventreg verify --expected-head {_e(log['head'])}</code>.</p>")
    parts.append("<h2>Timeline of promotions and rollbacks</h2>")
    if data["timeline"]:
        parts.append("<ul class='timeline'>")
        for move in data["timeline"]:
            verb = "promoted to" if move["action"] == "promote" else "rolled back"
            was = f" (replacing version {_e(move['previous'])})" if move["previous"] is not None else ""
            what = (f"version {_e(move['version'])} {verb} <strong>{_e(move['alias'])}</strong>{was}"
                    if move["action"] == "promote" else
                    f"<strong>{_e(move['alias'])}</strong> {verb} to version {_e(move['version'])} "
                    f"(from version {_e(move['previous'])})")
            forced = " <span class='badge'>forced</span>" if move["forced"] else ""
            reason = f"<br>why: {_e(move['reason'])}" if move["reason"] else ""
            parts.append(f"<li class='{'promote' if move['action'] == 'promote' else 'rollback'}'>"
                         f"<span class='badge'>{_e(move['action'])}</span>{forced} {what}<br>"
                         f"<span class='meta'>{_e(move['at'])} by {_e(move['actor'])} &middot; "
                         f"position {_e(move['position'])}</span>{reason}</li>")
        parts.append("</ul>")
    else:
        parts.append("<p class='meta'>No promotions or rollbacks in this period.</p>")
    parts.append("<h2>Versions and their lineage</h2>")
    for v in data["versions"]:
        label = f" ({_e(v['label'])})" if v["label"] else ""
        aliases = f" &middot; holds {_e(', '.join(v['aliases']))}" if v["aliases"] else ""
        parts.append(f"<div class='version'><h3>Version {_e(v['version'])}{label}</h3>")
        parts.append(f"<p class='meta'>{_e(v['status'])}{aliases} &middot; registered {_e(v['registered_at'])} "
                     f"by {_e(v['registered_by'])} at position {_e(v['position'])}"
                     + (f" &middot; run {_e(v['run_id'])}" if v["run_id"] else "") + "</p>")
        if v["description"]:
            parts.append(f"<p>{_e(v['description'])}</p>")
        lineage = {"code repository": v["code_repo"], "code commit": v["code_commit"],
                   "code dirty": v["code_dirty"], "run": v["run_id"],
                   "parents": ", ".join(f"version {p}" for p in v["parents"]) or None}
        parts.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td class='mono'>{_v(val)}</td></tr>"
                                         for k, val in lineage.items()) + "</table>")
        parts.append("<h4>Training data</h4>" + _kv(_flat(v["data"]), NOT_RECORDED))
        parts.append("<h4>Architecture</h4>" + _kv(_flat(v["architecture"]), NOT_RECORDED))
        parts.append("<h4>Environment</h4>" + _kv(_flat(v["environment"]), NOT_RECORDED))
        parts.append("<h4>Params</h4>" + _kv(v["params"], NOT_RECORDED))
        parts.append("<h4>Metrics</h4>" + _kv(v["metrics"], NOT_RECORDED))
        parts.append("<h4>Metric history</h4>" + _history_html(v.get("metric_history") or {}))
        parts.append("<h4>Tags</h4>" + _kv(v["tags"]))
        parts.append("<h4>Artifacts</h4>" + _kv({p: f"sha256:{a['sha256']} ({a['size']} bytes)"
                                                 for p, a in v["artifacts"].items()}, NOT_RECORDED))
        parts.append("<h4>Reproductions</h4>" + _kv({f"position {r['position']}, {r['at']}, by {r['actor']}": r["summary"]
                                                     for r in v.get("reproductions") or ()}))
        parts.append("</div>")
    if data.get("signatures"):
        parts.append("<h2>Signed decisions</h2><table><tr><th>signed by</th><th>when (UTC)</th><th>meaning</th>"
                     "<th>request</th><th>position</th><th>key</th></tr>")
        parts += [f"<tr><td>{_e(s['printed_name'])} ({_e(s['actor'])})</td><td>{_e(s['at'])}</td>"
                  f"<td>{_e(s['meaning'])}</td><td>{_e(s['request_id'])}: {_e(s['alias'])} to version "
                  f"{_e(s['version'])}</td><td>{_e(s['position'])}</td><td class='mono'>{_e(s['key_id'])}</td></tr>"
                  for s in data["signatures"]]
        parts.append("</table>")
    parts.append("<h2>Every event of this model in the period</h2><table><tr><th>position</th><th>when (UTC)</th>"
                 "<th>who</th><th>what</th><th>why</th><th>hash</th></tr>")
    for e in data["events"]:
        parts.append(f"<tr><td>{_e(e['position'])}</td><td>{_e(e['at'])}</td><td>{_v(e['actor'])}</td>"
                     f"<td>{_v(e['summary'])}</td><td>{_v(e['reason'])}</td>"
                     f"<td class='mono'>{_e(e['hash'][:16])}&hellip;</td></tr>")
    parts.append("</table></body></html>\n")
    return "\n".join(parts)
