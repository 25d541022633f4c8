"""The OpenAPI 3.1 description of the admin API, served at ``/api/v1/openapi.json``.

Kept as data beside the views it describes; ``tests/test_banks_api.py`` validates every
response the tests see against it and fuzzes the endpoints with schemathesis.
"""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {code: _json(_ref("Error"), text) for code, text in {
    "400": "Bad request: the message says what is wrong",
    "401": "Missing or wrong bearer token",
    "404": "No such bank or entry",
    "409": "Already exists",
    "422": "The picture cannot be scanned",
}.items()}
ENTRY_PARAMS = [
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "kind", "in": "path", "required": True,
     "schema": {"type": "string", "enum": ["pdq", "sha256", "md5", "video_md5"]}},
    {"name": "value", "in": "path", "required": True, "schema": {"type": "string"}},
]
BANK_PARAM = [ENTRY_PARAMS[0]]
NULLABLE_STR = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
HEX64 = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
HEX32 = {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}


def _typed_hash(type_key: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A hash as {type, value}: the value's pattern depends on the type."""
    def variant(kinds: list[str], pattern: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [type_key, "value"], "properties": {
            type_key: {"type": "string", "enum": kinds}, "value": pattern, **(extra or {})}}
    return {"oneOf": [variant(["pdq", "sha256"], HEX64), variant(["md5", "video_md5"], HEX32)]}


PICTURE_BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "format": "binary"}}}},
    "application/json": {"schema": {"type": "object", "required": ["url"], "properties": {
        "url": {"type": "string", "format": "uri"}}}},
}}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"}}},
    "Bank": {"type": "object", "required": ["name", "category", "visibility", "enabled",
                                            "shareable"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "category": {"type": "string", "enum": ["csam", "ncii", "nonconsensual_ai_edit",
                                                "terror", "spam", "other"]},
        "visibility": {"type": "string", "enum": ["private", "peers", "vetted"]},
        "enabled": {"type": "boolean"}, "shareable": {"type": "boolean"},
        "description": NULLABLE_STR, "created_at": TIME,
        "removed_at": {"type": ["string", "null"]}}},
    "BankInput": {"type": "object", "required": ["name", "category"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 128},
        "category": {"type": "string", "enum": ["csam", "ncii", "nonconsensual_ai_edit",
                                                "terror", "spam", "other"]},
        "visibility": {"type": "string", "enum": ["private", "peers", "vetted"]},
        "shareable": {"type": "boolean",
                      "description": "false for lists licensed from others: never exported"},
        "description": {"type": "string"}}},
    "BankPatch": {"type": "object", "properties": {
        "enabled": {"type": "boolean"},
        "visibility": {"type": "string", "enum": ["private", "peers", "vetted"]},
        "description": {"type": "string"}}},
    "Opinion": {"type": "object", "required": ["opinion", "by"], "properties": {
        "opinion": {"type": "string",
                    "enum": ["true_positive", "false_positive", "worth_investigating"]},
        "by": {"type": "string"}, "note": NULLABLE_STR, "at": TIME}},
    "Entry": {"type": "object", "required": ["bank", "hash_type", "value", "opinions",
                                             "disputed"], "properties": {
        "id": {"type": "integer"}, "bank": {"type": "string"}, "category": {"type": "string"},
        "hash_type": {"type": "string"}, "value": {"type": "string"}, "note": NULLABLE_STR,
        "source": {"type": "string"}, "created_at": TIME,
        "removed_at": NULLABLE_STR, "removed_by": NULLABLE_STR, "removed_reason": NULLABLE_STR,
        "opinions": {"type": "array", "items": _ref("Opinion")},
        "disputed": {"type": "boolean",
                     "description": "true and false positive opinions coexist"}}},
    "Match": {"type": "object", "required": ["bank", "category", "type", "value", "distance",
                                             "opinions"], "properties": {
        "bank": {"type": "string"}, "category": {"type": "string"},
        "type": {"type": "string"}, "value": {"type": "string"},
        "distance": {"type": "integer", "minimum": 0}, "entry_id": {"type": "integer"},
        "opinions": {"type": "array", "items": _ref("Opinion")},
        "disputed": {"type": "boolean"}}},
    "Hashes": {"type": "object", "required": ["sha256", "md5", "pdq", "pdq_quality",
                                              "pdq_dihedral"], "properties": {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "md5": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "pdq": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "pdq_quality": {"type": "integer", "minimum": 0, "maximum": 100},
        "pdq_dihedral": {"type": "array", "minItems": 8, "maxItems": 8,
                         "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
        "width": {"type": "integer"}, "height": {"type": "integer"},
        "format": {"type": "string"}}},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Consentry admin API", "version": "1",
             "description": "Hash banks, lookups and hashing for admins and other tools."},
    "components": {"schemas": SCHEMAS, "securitySchemes": {
        "admin": {"type": "http", "scheme": "bearer",
                  "description": "CONSENTRY_ADMIN_TOKEN"}}},
    "security": [{"admin": []}],
    "paths": {
        "/api/v1/hash": {"post": {
            "summary": "Hash a picture (upload or URL)", "requestBody": PICTURE_BODY,
            "responses": {"200": _json(_ref("Hashes")), **ERRORS}}},
        "/api/v1/lookup": {"post": {
            "summary": "What does this hash or picture match?",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _typed_hash("type")},
                "multipart/form-data": PICTURE_BODY["content"]["multipart/form-data"]}},
            "responses": {"200": _json({"type": "object", "required": ["matches"],
                                        "properties": {"matches": {
                                            "type": "array", "items": _ref("Match")}}}),
                          **ERRORS}}},
        "/api/v1/banks": {
            "get": {"summary": "List banks", "responses": {"200": _json(
                {"type": "object", "required": ["banks"],
                 "properties": {"banks": {"type": "array", "items": _ref("Bank")}}}), **ERRORS}},
            "post": {"summary": "Create a bank", "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("BankInput")}}},
                "responses": {"201": _json(_ref("Bank"), "Created"), **ERRORS}}},
        "/api/v1/banks/{name}": {
            "parameters": BANK_PARAM,
            "get": {"summary": "One bank", "responses": {"200": _json(_ref("Bank")), **ERRORS}},
            "patch": {"summary": "Enable, disable, change visibility", "requestBody": {
                "required": True, "content": {"application/json": {
                    "schema": _ref("BankPatch")}}},
                "responses": {"200": _json(_ref("Bank")), **ERRORS}},
            "delete": {"summary": "Retire a bank (rows are kept)",
                       "responses": {"200": _json(_ref("Bank")), **ERRORS}}},
        "/api/v1/banks/{name}/entries": {
            "parameters": BANK_PARAM,
            "get": {"summary": "Active entries, keyset-paged",
                    "parameters": [
                        {"name": "after", "in": "query", "schema": {"type": "integer",
                                                                   "minimum": 0}},
                        {"name": "limit", "in": "query", "schema": {
                            "type": "integer", "minimum": 1, "maximum": 1000}}],
                    "responses": {"200": _json({"type": "object", "required": ["entries"],
                                                "properties": {
                        "entries": {"type": "array", "items": _ref("Entry")},
                        "next": {"type": ["integer", "null"]}}}), **ERRORS}},
            "post": {"summary": "Add entries", "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "required": ["entries"],
                                                "properties": {"entries": {
                    "type": "array", "minItems": 1, "maxItems": 10000,
                    "items": _typed_hash("hash_type", {"note": {"type": "string"}})}}}}}},
                "responses": {"201": _json({"type": "object", "required": ["added"],
                                            "properties": {"added": {"type": "integer"}}},
                                           "Added"), **ERRORS}}},
        "/api/v1/banks/{name}/entries/{kind}/{value}": {
            "parameters": ENTRY_PARAMS,
            "get": {"summary": "One entry with its opinions",
                    "responses": {"200": _json(_ref("Entry")), **ERRORS}},
            "delete": {"summary": "Remove an entry (a tombstone with who and why is kept)",
                       "requestBody": {"required": True, "content": {"application/json": {
                           "schema": {"type": "object", "required": ["reason"], "properties": {
                               "reason": {"type": "string", "pattern": "\\S"},
                               "by": {"type": "string"}}}}}},
                       "responses": {"200": _json(_ref("Entry")), **ERRORS}}},
        "/api/v1/banks/{name}/entries/{kind}/{value}/opinions": {
            "parameters": ENTRY_PARAMS,
            "put": {"summary": "Set one reviewer's opinion of an entry", "requestBody": {
                "required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["opinion", "by"], "properties": {
                        "opinion": {"type": "string", "enum": [
                            "true_positive", "false_positive", "worth_investigating"]},
                        "by": {"type": "string", "minLength": 1, "maxLength": 128},
                        "note": {"type": "string"}}}}}},
                "responses": {"200": _json(_ref("Entry")), **ERRORS}}},
    },
}
