"""The five routes of a versioned collection (list, create, get, replace, delete), registered from one description.

The directory's four families and scenario drafts share this shape: a page of items; create answers 201 with a
Location; get, replace and delete address one item by its key in the path; writes of an existing item need If-Match.
Powertools documents a route from its handler: the name makes the operationId and the signature (Annotated
Path/Query/Body parameters, return annotation) makes the parameters, the body and the response model. So the
handlers made here get a proper `__name__` and `__signature__`; what each route does comes from `CollectionHandlers`.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from vpbx.api.context import IF_MATCH, etag, version_from_if_match
from vpbx.api.errors import JSON_CONTENT_TYPE
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.responses import CREATE_ERRORS, DELETE_ERRORS, READ_ERRORS, WRITE_ERRORS, deleted_docs, documented
from vpbx.store.ports import DEFAULT_PAGE_LIMIT

F = TypeVar("F", bound=Callable[..., Any])

# Required: powertools' "missing" validation error for it becomes our 428 in vpbx.api.app (one error mapping).
IfMatch = Annotated[
    str,
    Header(
        alias=IF_MATCH,
        description='The ETag you last read, e.g. "3" (W/"3" and 3 are accepted too). '
        "Missing: 428 precondition_required; stale: 412 precondition_failed; not an ETag of this API: 400.",
        examples=['"1"'],
        # Documented, not enforced here: version_from_if_match enforces it with its own located 400.
        json_schema_extra={"pattern": r'^(W/)?"?[0-9]{1,12}"?$'},
    ),
]


@dataclass(frozen=True)
class Summaries:
    """The OpenAPI summary of each of the five routes."""

    list: str
    create: str
    get: str
    replace: str
    delete: str


@dataclass(frozen=True)
class ResourceFamily:
    """One versioned collection as the API shows it: paths, key, models, tag and documentation."""

    collection: str  # "/v1/subscribers"; an item is "<collection>/<key>"
    key: str  # name of the path parameter, e.g. "extension"
    key_type: Any  # its Annotated[str, Path(...)] type
    singular: str  # handler names: list_<plural>, create_<singular>, get_/replace_/delete_<singular>
    plural: str
    tag: str
    create_body: type[BaseModel]
    replace_body: type[BaseModel]
    item_out: type[BaseModel]
    list_item_out: type[BaseModel]
    summaries: Summaries
    page_description: str  # "A page of subscribers"
    item_description: str  # "The subscriber"
    create_errors: dict[int, OpenAPIResponse] | None = None  # CREATE_ERRORS when None
    delete_errors: dict[int, OpenAPIResponse] | None = None  # DELETE_ERRORS when None

    def location(self, key: str) -> str:
        return f"{self.collection}/{quote(key, safe='')}"


@dataclass(frozen=True)
class CollectionHandlers:
    """What each route does once the request is parsed (the caller's tenant is the handlers' business)."""

    list: Callable[[int, str | None], PageOf[Any]]
    create: Callable[[Any], Response[Any]]
    get: Callable[[str], Response[Any]]
    replace: Callable[[str, Any, int], Response[Any]]
    delete: Callable[[str, int], None]


def versioned_response(
    body: BaseModel, version: int, status: int = HTTPStatus.OK, location: str | None = None
) -> Response[Any]:
    """One versioned resource with its ETag (and Location for a create)."""
    headers = {"ETag": etag(version)}
    if location is not None:
        headers["Location"] = location
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=body, headers=headers)


def register_collection(router: Router, family: ResourceFamily, handlers: CollectionHandlers) -> None:
    """Add the list/create/get/replace/delete routes of `family` to `router`."""
    item_path = f"{family.collection}/<{family.key}>"
    key, if_match = _param(family.key, family.key_type), _param("if_match", IfMatch)
    tags = [family.tag]
    summaries = family.summaries
    page_model, item_response = _of(PageOf, family.list_item_out), _of(Response, family.item_out)

    def list_items(limit: int, cursor: str | None) -> PageOf[Any]:
        return handlers.list(limit, cursor)

    def create_item(body: Any) -> Response[Any]:
        return handlers.create(body)

    def get_item(**path: str) -> Response[Any]:
        return handlers.get(path[family.key])

    def replace_item(body: Any, if_match: str, **path: str) -> Response[Any]:
        return handlers.replace(path[family.key], body, version_from_if_match(if_match))

    def delete_item(if_match: str, **path: str) -> Response[None]:
        handlers.delete(path[family.key], version_from_if_match(if_match))
        return Response(status_code=HTTPStatus.NO_CONTENT, body=None)

    router.get(
        family.collection,
        summary=summaries.list,
        tags=tags,
        responses=documented(200, page_model, family.page_description, READ_ERRORS, etag=False),
    )(
        _named(
            list_items,
            f"list_{family.plural}",
            [_param("limit", Limit, DEFAULT_PAGE_LIMIT), _param("cursor", Cursor, None)],
            page_model,
        )
    )
    router.post(
        family.collection,
        summary=summaries.create,
        tags=tags,
        responses=documented(201, family.item_out, "Created", family.create_errors or CREATE_ERRORS),
    )(_named(create_item, f"create_{family.singular}", [_body(family.create_body)], item_response))
    router.get(
        item_path,
        summary=summaries.get,
        tags=tags,
        responses=documented(200, family.item_out, family.item_description, READ_ERRORS),
    )(_named(get_item, f"get_{family.singular}", [key], item_response))
    router.put(
        item_path,
        summary=summaries.replace,
        tags=tags,
        responses=documented(200, family.item_out, "Replaced", WRITE_ERRORS),
    )(
        _named(
            replace_item,
            f"replace_{family.singular}",
            [key, _body(family.replace_body), if_match],
            item_response,
        )
    )
    router.delete(
        item_path,
        summary=summaries.delete,
        tags=tags,
        responses=deleted_docs(family.delete_errors or DELETE_ERRORS),
    )(_named(delete_item, f"delete_{family.singular}", [key, if_match], Response[None]))


def _of(generic: Any, argument: type[BaseModel]) -> Any:
    """`generic[argument]` for a model known only at run time (PageOf[SubscriberOut], Response[SubscriberOut])."""
    return generic[argument]


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _body(model: type[BaseModel]) -> inspect.Parameter:
    return _param("body", Annotated[model, Body()])


def _named(handler: F, name: str, parameters: list[inspect.Parameter], returns: Any) -> F:
    """The handler as powertools should see it: `name` for the operationId, `parameters` for the request."""
    handler.__name__ = handler.__qualname__ = name
    handler.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    return handler
