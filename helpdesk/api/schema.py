"""OpenAPI post-processing: document the error answers every operation can give.

Views declare their success responses; the errors follow from shared machinery (authentication,
per-object access, strict filtering, throttling), so they are added here once, in one shape.
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` for general errors; otherwise one list of messages per invalid field or parameter.",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "Invalid input or unknown query parameter; the body names each problem.",
    "401": "Not authenticated.",
    "403": "Authenticated, but this role may not do this.",
    "404": "No such object, or not one the caller may see (the two are indistinguishable).",
    "405": "Method not allowed on this path.",
    "415": "Unsupported request body type: send JSON (or multipart where files are accepted).",
    "429": "Rate limit exceeded; retry after the Retry-After header.",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                if code == "404" and "{" not in path:
                    continue
                responses.setdefault(code, {"description": description, "content": error})
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = error  # errors that views declared with a description only
    return result
