"""Build the DynamoDB table from template.yaml's `Table` resource, so tests and the local server match deployment."""

import copy
import functools
import os
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_ENV_VAR = "VPBX_TEMPLATE_PATH"
TABLE_RESOURCE = "Table"
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[4] / "template.yaml"

# CloudFormation properties that create_table takes as they are; the others are translated or applied afterwards.
_PASSTHROUGH = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "TableClass",
    "DeletionProtectionEnabled",
)


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that accepts CloudFormation short-form tags (!Ref, !GetAtt, !Sub…) and keeps their plain value."""


def _keep_tagged_value(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return None


_CloudFormationLoader.add_multi_constructor("!", _keep_tagged_value)


def template_path(override: str | os.PathLike[str] | None = None) -> Path:
    chosen = override or os.environ.get(TEMPLATE_ENV_VAR) or DEFAULT_TEMPLATE
    return Path(chosen)


def table_properties(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The `Properties` of the template's Table resource (a copy: callers may change it)."""
    source = template_path(path)
    try:
        modified = source.stat().st_mtime_ns
    except OSError as exc:
        raise FileNotFoundError(f"cannot read the SAM template at {source}: {exc}") from exc
    return copy.deepcopy(_parse_table_properties(str(source), modified))


@functools.lru_cache(maxsize=8)
def _parse_table_properties(source: str, _modified: int) -> dict[str, Any]:
    """Parsed once per template file version: tests build a table per test."""
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"cannot read the SAM template at {source}: {exc}") from exc
    template = yaml.load(text, Loader=_CloudFormationLoader)  # noqa: S506
    resource = (template or {}).get("Resources", {}).get(TABLE_RESOURCE)
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::DynamoDB::Table":
        raise ValueError(f"{source} has no AWS::DynamoDB::Table resource named {TABLE_RESOURCE!r}")
    return dict(resource.get("Properties") or {})


def table_definition(template_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """boto3 `create_table` keyword arguments (without TableName) equivalent to the template's table."""
    properties = table_properties(template_path)
    definition = {name: properties[name] for name in _PASSTHROUGH if name in properties}
    if "SSESpecification" in properties:
        sse = properties["SSESpecification"]
        definition["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled", False))}
        if sse.get("SSEType"):
            definition["SSESpecification"]["SSEType"] = sse["SSEType"]
    if "StreamSpecification" in properties:
        view = properties["StreamSpecification"]["StreamViewType"]
        definition["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    return definition


def ttl_attribute(template_path: str | os.PathLike[str] | None = None) -> str | None:
    ttl = table_properties(template_path).get("TimeToLiveSpecification") or {}
    return ttl.get("AttributeName") if ttl.get("Enabled") else None


def create_table(client: Any, table_name: str, template_path: str | os.PathLike[str] | None = None) -> None:
    """Create the table as the template defines it, wait until it is active, then switch TTL on."""
    client.create_table(TableName=table_name, **table_definition(template_path))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    attribute = ttl_attribute(template_path)
    if attribute:
        client.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
