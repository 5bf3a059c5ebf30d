"""
Hypothesis strategies: one per registry event, and valid names and values.
"""

from __future__ import annotations

import struct
from datetime import datetime, timezone

from hypothesis import strategies as st

from eventreg.domain import events as ev
from eventreg.domain import repro_events as repro
from eventreg.domain import tracking_events as tev
from eventreg.domain import governance_events as gev

_NAME_ALPHABET = st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn"),
    exclude_characters="/\\@",
)

#: Valid names: printable, no / \ @ .., no surrounding spaces.
names = st.text(_NAME_ALPHABET, min_size=1, max_size=20).map(str.strip).filter(
    lambda s: s and ".." not in s and s != "." and s.isprintable()
)
#: Valid alias and label names (not numbers, not "latest").
version_names = names.filter(lambda s: not s.isdigit() and s.lower() != "latest")
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=50)
optional_texts = st.none() | texts
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=True) | texts
json_objects = st.dictionaries(st.text(max_size=10), json_scalars, max_size=4)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
tags = st.dictionaries(names, texts, max_size=3)
params = st.dictionaries(names, json_scalars, max_size=3)
versions = st.integers(1, 10_000)
run_ids = st.uuids().map(lambda u: u.hex)

metric_points = st.builds(
    ev.MetricPoint, key=names, value=st.floats(allow_nan=True, allow_infinity=True),
    step=st.none() | st.integers(-(2**40), 2**40), timestamp=timestamps,
)
artifact_entries = st.builds(
    ev.ArtifactEntry, sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
    size=st.integers(0, 2**40),
)
artifacts = st.dictionaries(names, artifact_entries, max_size=3)

#: One strategy per event class.
EVENT_STRATEGIES = {
    ev.ModelCreated: st.builds(ev.ModelCreated, model=names, description=optional_texts, tags=tags),
    ev.ModelUpdated: st.builds(ev.ModelUpdated, model=names, description=optional_texts),
    ev.ModelTagSet: st.builds(ev.ModelTagSet, model=names, key=names, value=texts),
    ev.ModelTagDeleted: st.builds(ev.ModelTagDeleted, model=names, key=names),
    ev.ModelArchived: st.builds(ev.ModelArchived, model=names, reason=optional_texts),
    ev.VersionRegistered: st.builds(
        ev.VersionRegistered, model=names, version=versions, label=st.none() | version_names,
        description=optional_texts, params=params, metrics=st.lists(metric_points, max_size=3).map(tuple),
        tags=tags, artifacts=artifacts,
        model_info=st.none() | st.fixed_dictionaries({"path": names, "flavor": json_objects}),
        data=st.none() | json_objects, code=st.none() | json_objects, environment=json_objects,
        architecture=st.none() | json_objects, run_id=st.none() | run_ids,
        parents=st.lists(versions, max_size=3).map(tuple),
    ),
    ev.VersionUpdated: st.builds(ev.VersionUpdated, model=names, version=versions, description=optional_texts),
    ev.VersionMetricsLogged: st.builds(
        ev.VersionMetricsLogged, model=names, version=versions,
        points=st.lists(metric_points, min_size=1, max_size=3).map(tuple),
    ),
    ev.VersionTagSet: st.builds(ev.VersionTagSet, model=names, version=versions, key=names, value=texts),
    ev.VersionTagDeleted: st.builds(ev.VersionTagDeleted, model=names, version=versions, key=names),
    ev.VersionDeprecated: st.builds(ev.VersionDeprecated, model=names, version=versions, reason=optional_texts),
    ev.VersionArchived: st.builds(ev.VersionArchived, model=names, version=versions, reason=optional_texts),
    ev.AliasPromoted: st.builds(
        ev.AliasPromoted, model=names, alias=version_names, version=versions,
        previous=st.none() | versions, reason=optional_texts, forced=st.booleans(),
    ),
    ev.AliasRolledBack: st.builds(
        ev.AliasRolledBack, model=names, alias=version_names, version=versions, previous=versions,
        reason=optional_texts, forced=st.booleans(),
    ),
    ev.ModelDeleted: st.builds(ev.ModelDeleted, model=names, reason=optional_texts),
    ev.VersionStageSet: st.builds(ev.VersionStageSet, model=names, version=st.integers(1, 1000),
                                  stage=st.sampled_from(["READY", "STAGING", "PRODUCTION", "ARCHIVED"]),
                                  reason=optional_texts),
    ev.VersionDeleted: st.builds(ev.VersionDeleted, model=names, version=st.integers(1, 1000), reason=optional_texts),
    ev.AliasRemoved: st.builds(ev.AliasRemoved, model=names, alias=names, previous=st.integers(1, 1000),
                               reason=optional_texts),
    ev.ExperimentCreated: st.builds(ev.ExperimentCreated, experiment=names),
    ev.ExperimentTagSet: st.builds(ev.ExperimentTagSet, experiment=names, key=names, value=texts),
    ev.ExperimentTagDeleted: st.builds(ev.ExperimentTagDeleted, experiment=names, key=names),
    ev.ExperimentDeleted: st.builds(ev.ExperimentDeleted, experiment=names, reason=optional_texts),
    ev.ExperimentRestored: st.builds(ev.ExperimentRestored, experiment=names),
    ev.RunDeleted: st.builds(ev.RunDeleted, run_id=run_ids, reason=optional_texts),
    ev.RunRestored: st.builds(ev.RunRestored, run_id=run_ids),
    ev.RunTagDeleted: st.builds(ev.RunTagDeleted, run_id=run_ids, key=names),
    ev.RunStarted: st.builds(
        ev.RunStarted, run_id=run_ids, experiment=names, name=optional_texts, tags=tags,
        environment=json_objects, code=st.none() | json_objects, started_at=st.none() | timestamps,
    ),
    ev.RunParamsLogged: st.builds(ev.RunParamsLogged, run_id=run_ids, params=params),
    ev.RunMetricsLogged: st.builds(
        ev.RunMetricsLogged, run_id=run_ids, points=st.lists(metric_points, min_size=1, max_size=3).map(tuple),
    ),
    ev.RunTagsSet: st.builds(ev.RunTagsSet, run_id=run_ids, tags=tags),
    ev.RunArtifactsLogged: st.builds(ev.RunArtifactsLogged, run_id=run_ids, artifacts=artifacts),
    ev.RunModelLogged: st.builds(ev.RunModelLogged, run_id=run_ids, path=names, flavor=json_objects,
                                 artifacts=artifacts),
    ev.RunFinished: st.builds(ev.RunFinished, run_id=run_ids, status=st.sampled_from(["FINISHED", "FAILED", "KILLED"]),
                              error=optional_texts, ended_at=st.none() | timestamps),
    ev.WebhookCreated: st.builds(ev.WebhookCreated, webhook_id=names, name=names, url=texts,
                                 events=st.lists(names, max_size=3).map(tuple), description=optional_texts,
                                 status=st.sampled_from(["ACTIVE", "DISABLED"]), secret=optional_texts),
    ev.WebhookUpdated: st.builds(ev.WebhookUpdated, webhook_id=names, name=st.none() | names, url=optional_texts,
                                 events=st.none() | st.lists(names, max_size=3).map(tuple),
                                 description=optional_texts, status=st.none() | st.just("DISABLED"),
                                 secret=optional_texts),
    ev.WebhookDeleted: st.builds(ev.WebhookDeleted, webhook_id=names),
    ev.SnapshotSaved: st.builds(ev.SnapshotSaved, position=st.integers(1, 2**40),
                                digest=st.text("0123456789abcdef", min_size=64, max_size=64),
                                format=st.integers(1, 5), code_version=names),
    repro.RunDatasetLogged: st.builds(repro.RunDatasetLogged, run_id=run_ids, name=names, dataset=json_objects),
    repro.VersionReproduced: st.builds(
        repro.VersionReproduced, model=names, version=versions,
        outcome=st.sampled_from(["reproduced", "not_reproduced", "failed"]),
        differences=json_objects, run_id=st.none() | run_ids,
        environment=optional_texts, comparison=json_objects, reason=optional_texts,
    ),
    tev.ExperimentRenamed: st.builds(tev.ExperimentRenamed, experiment=names, name=names),
    tev.RunRenamed: st.builds(tev.RunRenamed, run_id=run_ids, name=texts),
    tev.RunStatusSet: st.builds(tev.RunStatusSet, run_id=run_ids, status=st.sampled_from(tev.RUN_STATUSES),
                                ended_at=st.none() | timestamps),
    gev.GovernanceEnabled: st.builds(gev.GovernanceEnabled, admin=names),
    gev.RoleGranted: st.builds(gev.RoleGranted, role=names, member=names, reason=optional_texts),
    gev.RoleRevoked: st.builds(gev.RoleRevoked, role=names, member=names, reason=optional_texts),
    gev.KeyRegistered: st.builds(gev.KeyRegistered, key_id=st.text("0123456789abcdef", min_size=16, max_size=16),
                                 owner=names, public_key=texts, printed_name=optional_texts, reason=optional_texts),
    gev.KeyRevoked: st.builds(gev.KeyRevoked, key_id=names, reason=optional_texts),
    gev.AliasProtected: st.builds(
        gev.AliasProtected, model=names, alias=version_names, approvals=st.integers(1, 5),
        approvers=st.lists(names, min_size=1, max_size=3).map(tuple), require=st.lists(texts, max_size=2).map(tuple),
        emergency=st.lists(names, max_size=2).map(tuple), signed=st.booleans(), reason=optional_texts),
    gev.AliasUnprotected: st.builds(gev.AliasUnprotected, model=names, alias=version_names, request_id=names),
    gev.RequestFiled: st.builds(gev.RequestFiled, model=names, request_id=names,
                                action=st.sampled_from(["promote", "rollback", "unprotect"]), alias=version_names,
                                version=st.none() | versions, reason=optional_texts),
    gev.RequestApproved: st.builds(gev.RequestApproved, model=names, request_id=names, reason=optional_texts),
    gev.RequestRejected: st.builds(gev.RequestRejected, model=names, request_id=names, reason=optional_texts),
    gev.RequestWithdrawn: st.builds(gev.RequestWithdrawn, model=names, request_id=names, reason=optional_texts),
    gev.RequestDecided: st.builds(
        gev.RequestDecided, model=names, request_id=names, approvers=st.lists(names, max_size=3).map(tuple),
        checks=st.lists(st.fixed_dictionaries({"condition": texts, "ok": st.booleans()}), max_size=2).map(tuple),
        executed=st.booleans(), moved=st.booleans()),
    gev.EmergencyRollback: st.builds(gev.EmergencyRollback, model=names, alias=version_names, reason=texts),
}

#: Any event.
any_event = st.one_of(*EVENT_STRATEGIES.values())

#: Any JSON value the log stores, hostile text included: every code point but lone
#: surrogates (control characters, non-BMP, U+2028), ints of any size, every float.
any_texts = st.text(st.characters(codec="utf-8"), max_size=20)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True) | any_texts,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(any_texts, inner, max_size=5),
    max_leaves=30,
)
any_json_objects = st.dictionaries(any_texts, any_json, max_size=6)


def same_json(a, b) -> bool:
    """
    Equal JSON values with the same types all the way down (float bits compared, so NaN
    equals NaN and -0.0 differs from 0.0; keys in the same order).
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            ka == kb and type(ka) is type(kb) and same_json(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b
