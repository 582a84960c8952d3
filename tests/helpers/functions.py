"""Load Lambda functions the way the local server does: from template.yaml, by file path, under unique names."""

from types import ModuleType

from vpbx.local.gateway import load_module
from vpbx.local.template import local_api

_loaded: dict[str, ModuleType] = {}


def load_function(logical_id: str) -> ModuleType:
    """The module of template function `logical_id` (e.g. "AdminFunction"), imported once per test session."""
    if logical_id not in _loaded:
        api = local_api()
        functions = {route.function.logical_id: route.function for route in api.routes}
        if api.authorizer is not None:
            functions[api.authorizer.logical_id] = api.authorizer
        _loaded[logical_id] = load_module(functions[logical_id])
    return _loaded[logical_id]
