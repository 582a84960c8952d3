"""Every route of template.yaml, classified for the security matrices. A route missing here fails the suite.

The route list comes from vpbx.local.template.local_api() — the parser `vpbx serve` routes with — never from a
hand-written list, so a route added to the template without a row here breaks test_every_template_route_is_classified.

Kinds: `public` (docs, no key), `create` (a collection POST: makes an object of the caller's tenant), `list` (a
collection GET: must show only the caller's rows), `object` (names an object by path: another tenant's is 404).
`probe_role` is the least role that may call the route (so a 404 can only come from ownership, not from the role),
`body` builds a valid request body, `if_match` says whether the write needs the victim's ETag.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vpbx.local.template import Route, local_api

from tests.security.harness import World, path_number, seed_scenario

BodyOf = Callable[[World, int], Any]


@dataclass(frozen=True)
class RouteClass:
    kind: str  # public | create | list | object
    probe_role: str
    body: BodyOf | None = None
    if_match: bool = False


def _none(_: World, __: int) -> Any:
    return None


def _subscriber(world: World, n: int) -> dict[str, Any]:
    return {"name": f"Hijacked {n}"}


def _number(world: World, n: int) -> dict[str, Any]:
    return {"label": "hijacked"}


def _schedule(world: World, n: int) -> dict[str, Any]:
    return {"name": "Hijacked", "timezone": "UTC", "weekly": {}}


def _caller_list(world: World, n: int) -> dict[str, Any]:
    return {"name": "Hijacked"}


def _queue(world: World, n: int) -> dict[str, Any]:
    return {"name": "Hijacked", "members": [{"extension": world.extensions[0]}]}


def _scenario(world: World, n: int) -> dict[str, Any]:
    return seed_scenario(world.extensions[0], world.extensions[1])


def _rollback(world: World, n: int) -> dict[str, Any]:
    return {"version": 1}


def _key(world: World, n: int) -> dict[str, Any]:
    return {"role": "admin", "name": "hijacked"}


def _tenant_settings(world: World, n: int) -> dict[str, Any]:
    return {"name": "Hijacked", "sip_domain": "evil.example"}


def _event(world: World, n: int) -> dict[str, Any]:
    return {"seq": 1, "outcome": "no_answer"}


def _webhook(world: World, n: int) -> dict[str, Any]:
    return {"url": "https://hijacked.invalid/hook", "events": ["call.answered"]}


def _empty(world: World, n: int) -> dict[str, Any]:
    return {}


ROUTE_CLASSES: dict[tuple[str, str], RouteClass] = {
    # docs
    ("GET", "/v1/openapi.json"): RouteClass("public", "none"),
    ("GET", "/v1/docs"): RouteClass("public", "none"),
    # tenants and keys
    ("POST", "/v1/tenants"): RouteClass("create", "operator"),
    ("GET", "/v1/tenants/{tenant_id}"): RouteClass("object", "admin"),
    ("PUT", "/v1/tenants/{tenant_id}"): RouteClass("object", "admin", _tenant_settings, if_match=True),
    ("GET", "/v1/tenants/{tenant_id}/keys"): RouteClass("object", "admin"),
    ("POST", "/v1/tenants/{tenant_id}/keys"): RouteClass("object", "admin", _key),
    ("DELETE", "/v1/tenants/{tenant_id}/keys/{key_id}"): RouteClass("object", "admin"),
    # directory
    ("GET", "/v1/subscribers"): RouteClass("list", "viewer"),
    ("POST", "/v1/subscribers"): RouteClass("create", "editor"),
    ("GET", "/v1/subscribers/{extension}"): RouteClass("object", "viewer"),
    ("PUT", "/v1/subscribers/{extension}"): RouteClass("object", "editor", _subscriber, if_match=True),
    ("DELETE", "/v1/subscribers/{extension}"): RouteClass("object", "editor", if_match=True),
    ("GET", "/v1/numbers"): RouteClass("list", "viewer"),
    ("POST", "/v1/numbers"): RouteClass("create", "editor"),
    ("GET", "/v1/numbers/{number}"): RouteClass("object", "viewer"),
    ("PUT", "/v1/numbers/{number}"): RouteClass("object", "editor", _number, if_match=True),
    ("DELETE", "/v1/numbers/{number}"): RouteClass("object", "editor", if_match=True),
    ("GET", "/v1/schedules"): RouteClass("list", "viewer"),
    ("POST", "/v1/schedules"): RouteClass("create", "editor"),
    ("GET", "/v1/schedules/{schedule_id}"): RouteClass("object", "viewer"),
    ("PUT", "/v1/schedules/{schedule_id}"): RouteClass("object", "editor", _schedule, if_match=True),
    ("DELETE", "/v1/schedules/{schedule_id}"): RouteClass("object", "editor", if_match=True),
    ("GET", "/v1/schedules/{schedule_id}/status"): RouteClass("object", "viewer"),
    ("GET", "/v1/caller-lists"): RouteClass("list", "viewer"),
    ("POST", "/v1/caller-lists"): RouteClass("create", "editor"),
    ("GET", "/v1/caller-lists/{list_id}"): RouteClass("object", "viewer"),
    ("PUT", "/v1/caller-lists/{list_id}"): RouteClass("object", "editor", _caller_list, if_match=True),
    ("DELETE", "/v1/caller-lists/{list_id}"): RouteClass("object", "editor", if_match=True),
    ("GET", "/v1/queues"): RouteClass("list", "viewer"),
    ("POST", "/v1/queues"): RouteClass("create", "editor"),
    ("GET", "/v1/queues/{queue_id}"): RouteClass("object", "viewer"),
    ("PUT", "/v1/queues/{queue_id}"): RouteClass("object", "editor", _queue, if_match=True),
    ("DELETE", "/v1/queues/{queue_id}"): RouteClass("object", "editor", if_match=True),
    ("GET", "/v1/queues/{queue_id}/live"): RouteClass("object", "viewer"),
    ("POST", "/v1/queues/{queue_id}/members/{extension}/pause"): RouteClass("object", "telephony"),
    ("POST", "/v1/queues/{queue_id}/members/{extension}/unpause"): RouteClass("object", "telephony"),
    # scenarios
    ("GET", "/v1/scenarios"): RouteClass("list", "viewer"),
    ("POST", "/v1/scenarios"): RouteClass("create", "editor"),
    ("GET", "/v1/scenarios/{scenario_id}"): RouteClass("object", "viewer"),
    ("PUT", "/v1/scenarios/{scenario_id}"): RouteClass("object", "editor", _scenario, if_match=True),
    ("DELETE", "/v1/scenarios/{scenario_id}"): RouteClass("object", "editor", if_match=True),
    ("POST", "/v1/scenarios/{scenario_id}/validate"): RouteClass("object", "viewer"),
    ("POST", "/v1/scenarios/{scenario_id}/publish"): RouteClass("object", "editor", if_match=True),
    ("GET", "/v1/scenarios/{scenario_id}/versions"): RouteClass("object", "viewer"),
    ("GET", "/v1/scenarios/{scenario_id}/versions/{version}"): RouteClass("object", "viewer"),
    ("POST", "/v1/scenarios/{scenario_id}/rollback"): RouteClass("object", "editor", _rollback, if_match=True),
    ("POST", "/v1/scenarios/{scenario_id}/simulate"): RouteClass("object", "viewer", _empty),
    ("GET", "/v1/scenarios/{scenario_id}/diagram"): RouteClass("object", "viewer"),
    ("POST", "/v1/scenarios/{scenario_id}/preview"): RouteClass("object", "viewer", _empty),
    ("GET", "/v1/scenarios/{scenario_id}/analysis"): RouteClass("object", "viewer"),
    # calls: telephony drives them (the dialed number in the body names the tenant's object), tenants read them
    ("POST", "/v1/calls"): RouteClass("create", "telephony"),
    ("POST", "/v1/calls/{call_id}/events"): RouteClass("object", "telephony", _event),
    ("GET", "/v1/calls"): RouteClass("list", "viewer"),
    ("GET", "/v1/calls/{call_id}"): RouteClass("object", "viewer"),
    ("GET", "/v1/scenarios/{scenario_id}/stats"): RouteClass("object", "viewer"),
    # webhooks: tenant admins only
    ("GET", "/v1/webhooks"): RouteClass("list", "admin"),
    ("POST", "/v1/webhooks"): RouteClass("create", "admin"),
    ("GET", "/v1/webhooks/{webhook_id}"): RouteClass("object", "admin"),
    ("PUT", "/v1/webhooks/{webhook_id}"): RouteClass("object", "admin", _webhook, if_match=True),
    ("DELETE", "/v1/webhooks/{webhook_id}"): RouteClass("object", "admin", if_match=True),
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): RouteClass("object", "admin", if_match=True),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): RouteClass("object", "admin"),
    ("POST", "/v1/webhooks/{webhook_id}/test"): RouteClass("object", "admin"),
}

# Path parameter → the victim's object it names (n: which of its OBJECTS_PER_KIND objects).
PATH_PARAMETERS: dict[str, Callable[[World, int], str]] = {
    "tenant_id": lambda world, n: world.tenant_id,
    "key_id": lambda world, n: world.key_ids[n],
    "extension": lambda world, n: world.extensions[n],
    "number": lambda world, n: path_number(world.numbers[n]),
    "schedule_id": lambda world, n: world.schedules[n],
    "list_id": lambda world, n: world.caller_lists[n],
    "queue_id": lambda world, n: world.queues[n],
    "scenario_id": lambda world, n: world.scenarios[n],
    "call_id": lambda world, n: world.calls[n],
    "version": lambda world, n: "1",
    "webhook_id": lambda world, n: world.webhooks[n],
}


def template_routes() -> list[Route]:
    return local_api().routes


def route_key(route: Route) -> tuple[str, str]:
    return route.method, route.resource


def path_parameter_names(resource: str) -> list[str]:
    return [segment.strip("{}+") for segment in resource.split("/") if segment.startswith("{")]


def concrete_path(resource: str, world: World, n: int) -> str:
    path = resource
    for name in path_parameter_names(resource):
        path = path.replace("{" + name + "}", PATH_PARAMETERS[name](world, n))
    return path


def names_only_the_tenant(resource: str) -> bool:
    return path_parameter_names(resource) == ["tenant_id"]
