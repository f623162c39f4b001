"""A query string read as one pydantic model, in one call, and documented parameter by parameter.

FastAPI reads a query model (``Annotated[Model, Query()]``) field by field, inspecting each
field's annotation again on every request: for the search's 12 fields that was a tenth of the
worker's GIL time under the bench's uncached searches (py-spy, 100k components, one worker).
:func:`read_query` takes the same values the same way (a list field: every value of its name;
any other field: the last value) and validates them with the model's own validator; a route that
uses it declares :func:`openapi_parameters` so its OpenAPI document stays the same.
"""

from __future__ import annotations

import functools
import typing
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields given by repeating their name (``tag=a&tag=b``): those typed as lists."""
    names = set()
    for name, field in model.model_fields.items():
        kinds = typing.get_args(field.annotation) or (field.annotation,)
        if any(typing.get_origin(kind) in (list, tuple, set) for kind in kinds):
            names.add(name)
    return frozenset(names)


def read_query(model: type[M], request: Request) -> M:
    """The request's query string as ``model``; a bad value raises FastAPI's own validation
    error (a 422 naming ``query.<field>``), as a declared query model would. Names the model
    does not have are ignored, as FastAPI ignores undeclared parameters."""
    query = request.query_params
    many = _list_fields(model)
    values: dict[str, Any] = {}
    for name in model.model_fields:
        if name in many:
            given = query.getlist(name)
            if given:
                values[name] = given
        elif name in query:
            values[name] = query[name]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@functools.cache
def openapi_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """``model``'s fields as OpenAPI query parameters, as FastAPI writes a declared query model
    (for a route's ``openapi_extra``)."""
    schema = model.model_json_schema()
    if "$defs" in schema:  # a parameter's schema could not refer to them from here
        raise TypeError(f"{model.__name__}: a query model's fields must be plain types")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameter["schema"] = field_schema
        parameters.append(parameter)
    return parameters
