"""Routes as template.yaml declares them: every function's Api events, its code and whether it is public.

The local server reads this instead of keeping its own route list, so local and deployed routing cannot drift.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[4] / "template.yaml"
TEMPLATE_ENV_VAR = "VPBX_TEMPLATE_PATH"


class _CloudFormationLoader(yaml.SafeLoader):
    """Safe loader that turns short-form tags into long form: `!Ref X` → {"Ref": "X"}, `!Sub s` → {"Fn::Sub": s}."""


def _long_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _long_form)


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str  # "app.handler"
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def module_file(self) -> Path:
        return self.code_dir / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class Route:
    method: str  # upper case; ANY matches every method
    resource: str  # /v1/tenants/{tenant_id}
    function: Function
    public: bool
    pattern: re.Pattern[str]
    specificity: tuple[int, ...]  # literal segments sort before parameters, as API Gateway matches

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class LocalApi:
    routes: list[Route]
    authorizer: Function | None
    gateway_responses: dict[str, Any]
    stage: str
    template: dict[str, Any]

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        candidates = []
        for route in self.routes:
            if route.method not in {method, "ANY"}:
                continue
            params = route.match(path)
            if params is not None:
                candidates.append((route.specificity, route, params))
        if not candidates:
            return None
        _, route, params = min(candidates, key=lambda candidate: candidate[0])
        return route, params

    def methods_for(self, path: str) -> list[str]:
        return sorted({route.method for route in self.routes if route.match(path) is not None})


def template_path(override: str | os.PathLike[str] | None = None) -> Path:
    return Path(override or os.environ.get(TEMPLATE_ENV_VAR) or DEFAULT_TEMPLATE)


def load_template(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    source = template_path(path)
    loaded = yaml.load(source.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506 - safe loader
    if not isinstance(loaded, dict):
        raise ValueError(f"{source} is not a CloudFormation template")
    return loaded


def local_api(path: str | os.PathLike[str] | None = None) -> LocalApi:
    source = template_path(path)
    template = load_template(source)
    root = source.resolve().parent
    resources: dict[str, Any] = template.get("Resources") or {}
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    functions = {
        logical_id: _function(logical_id, resource.get("Properties") or {}, globals_, root)
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    api_id, api = _the_api(resources)
    auth = (api.get("Properties") or {}).get("Auth") or {}
    routes = [
        route
        for logical_id, resource in resources.items()
        if logical_id in functions
        for route in _routes(functions[logical_id], resource.get("Properties") or {}, api_id, bool(auth))
    ]
    return LocalApi(
        routes=routes,
        authorizer=_authorizer_function(auth, functions),
        gateway_responses=(api.get("Properties") or {}).get("GatewayResponses") or {},
        stage=_parameter_default(template, (api.get("Properties") or {}).get("StageName"), "v1"),
        template=template,
    )


def _function(logical_id: str, properties: dict[str, Any], globals_: dict[str, Any], root: Path) -> Function:
    environment = {
        **((globals_.get("Environment") or {}).get("Variables") or {}),
        **((properties.get("Environment") or {}).get("Variables") or {}),
    }
    return Function(
        logical_id=logical_id,
        code_dir=root / str(properties.get("CodeUri", ".")),
        handler=str(properties.get("Handler") or globals_.get("Handler") or "app.handler"),
        environment=environment,
    )


def _the_api(resources: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Api":
            return logical_id, resource
    return None, {}


def _routes(function: Function, properties: dict[str, Any], api_id: str | None, has_auth: bool) -> list[Route]:
    routes = []
    for event in (properties.get("Events") or {}).values():
        if event.get("Type") != "Api":
            continue
        props = event.get("Properties") or {}
        rest_api = props.get("RestApiId")
        if api_id is not None and rest_api is not None and rest_api != {"Ref": api_id}:
            continue
        authorizer = (props.get("Auth") or {}).get("Authorizer")
        resource = str(props["Path"])
        method = str(props["Method"]).upper()
        routes.append(
            Route(
                method="ANY" if method == "ANY" else method,
                resource=resource,
                function=function,
                public=not has_auth or authorizer == "NONE",
                pattern=_pattern(resource),
                specificity=tuple(1 if segment.startswith("{") else 0 for segment in resource.strip("/").split("/")),
            )
        )
    return routes


def _pattern(resource: str) -> re.Pattern[str]:
    parts = []
    for segment in resource.strip("/").split("/"):
        greedy = re.fullmatch(r"{(\w+)\+}", segment)
        single = re.fullmatch(r"{(\w+)}", segment)
        if greedy:
            parts.append(f"(?P<{greedy.group(1)}>.+)")
        elif single:
            parts.append(f"(?P<{single.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts))


def _authorizer_function(auth: dict[str, Any], functions: dict[str, Function]) -> Function | None:
    default = auth.get("DefaultAuthorizer")
    definition = (auth.get("Authorizers") or {}).get(default) or {}
    arn = definition.get("FunctionArn")
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        return functions.get(arn["Fn::GetAtt"][0])
    return None


def _parameter_default(template: dict[str, Any], value: Any, fallback: str) -> str:
    if isinstance(value, dict) and "Ref" in value:
        parameter = (template.get("Parameters") or {}).get(value["Ref"]) or {}
        return str(parameter.get("Default", fallback))
    return str(value) if value is not None else fallback


def resolve_environment(
    template: dict[str, Any], environment: dict[str, Any], resources: dict[str, str]
) -> dict[str, str]:
    """String env values as given; `!Ref` to a resource → its local name, to a parameter → its default."""
    resolved = {}
    for name, value in environment.items():
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in resources:
                resolved[name] = resources[ref]
            elif ref in (template.get("Parameters") or {}):
                resolved[name] = _parameter_default(template, value, "")
        elif not isinstance(value, dict | list):
            resolved[name] = str(value)
    return resolved
