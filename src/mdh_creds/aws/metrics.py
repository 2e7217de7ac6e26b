"""CloudWatch Embedded Metric Format (EMF): one JSON line on a Lambda function's stdout becomes
metrics, with no API call and no extra permission.

The document (CloudWatch's "Specification: Embedded metric format")::

    {"_aws": {"Timestamp": <ms>, "CloudWatchMetrics": [{"Namespace": ..., "Dimensions": [[...]],
              "Metrics": [{"Name": ..., "Unit": ...}]}]},
     <dimension>: "<string>", <metric>: <number>, <property>: <any JSON>}

Every name a directive refers to is a member of the root, dimension values are strings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

NAMESPACE = "MdhCreds"


def emf_document(
    metrics: Mapping[str, tuple[float, str]],
    *,
    dimensions: Mapping[str, str],
    properties: Mapping[str, object] | None = None,
    namespace: str = NAMESPACE,
    at: float | None = None,
) -> str:
    """One EMF line: ``metrics`` maps a name to ``(value, unit)`` (``Count``, ``Seconds``...)."""
    directive = {
        "Namespace": namespace,
        "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
    }
    document: dict[str, object] = {
        "_aws": {
            "Timestamp": int((time.time() if at is None else at) * 1000),
            "CloudWatchMetrics": [directive],
        },
        **(properties or {}),
        **{name: str(value) for name, value in dimensions.items()},
        **{name: value for name, (value, _) in metrics.items()},
    }
    return json.dumps(document, separators=(",", ":"))
