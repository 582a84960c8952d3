"""Public documentation routes: the OpenAPI document and Swagger UI (bundled, works offline)."""

from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()


@router.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    from vpbx.api.openapi import openapi_json  # imported late: it imports every router, this one included

    return Response(status_code=200, content_type="application/json", body=openapi_json())


@router.get("/v1/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    if router.current_event.get_query_string_value("format") == "json":
        return openapi_document()  # the spec link Swagger UI shows under the title points here
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=_swagger_html())


@lru_cache(maxsize=1)
def _swagger_html() -> str:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    from vpbx.api.openapi import openapi_json

    assets = Path(swagger_ui.__file__).parent
    js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    spec = openapi_json().replace("</", "<\\/")
    return generate_swagger_html(spec, js, css, "", None, persist_authorization=True)
