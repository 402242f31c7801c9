#!/usr/bin/env python3
"""Derives the connector's stream schemas (src/schemas/*.json) from Intercom's
official OpenAPI description: $INTERCOM_OPENAPI, else
../shared/intercom/api.intercom.io-2.16.yaml beside the checkout. Run with
--check to verify the committed files are current; without the description
the check is skipped with a notice (a failure under CI=true). The stream facts (OpenAPI schema, keys, parent
fields, dropped fields, the record hash) come from src/streams.rs, printed by
examples/stream_facts.rs.

Rules: $refs are inlined; `nullable` and optional fields become `["T", "null"]`
(Singer targets must accept absent values); integer UNIX timestamps
(`format: date-time`) become RFC 3339 strings, which the connector emits.

Corrections of the OpenAPI description, so that any Singer target accepts the
schemas (strict validators check `format`; flattening targets need `type`):
- `format` is kept only for `date-time`, whose values the connector writes
  itself. Intercom declares `format: uri` on the `type` of each item of
  contacts' `tags`, `notes` and `companies` (which holds "tag", "note"), and
  on their `url`s, which are relative paths (`/contacts/1/tags`); `email`,
  `uri` and `uuid` elsewhere hold whatever users typed.
- An object schema without `type` gets `"type": "object"` (and an array one
  `"type": "array"`): `conversations.ai_agent.content_sources` has
  `properties` only.
- `additionalProperties` is dropped. It constrains custom attributes, whose
  values are whatever the workspace's data attributes say (strings,
  integers, floats, booleans, dates), to strings (companies) or to strings,
  integers and two `$ref`s left dangling in the output (conversations);
  contacts' custom attributes were already open.
- A record schema made of variants (`oneOf`/`allOf`: conversation attributes,
  one variant per `data_type`) becomes one object with every variant's
  properties, since one table holds them all.
"""
import json, os, re, subprocess, sys, yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.environ.get("INTERCOM_OPENAPI") or os.path.join(
    ROOT, "..", "shared", "intercom", "api.intercom.io-2.16.yaml")
OUT = os.path.join(ROOT, "src", "schemas")

FACTS = ["cargo", "run", "-q", "--example", "stream_facts"]
DROP = {"example", "examples", "x-tags", "x-fern-sdk-group-name", "title", "deprecated", "additionalProperties"}


def convert(node, components, keys=(), depth=0):
    if depth > 12:
        return {}
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        merged = dict(components[name])
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return convert(merged, components, keys, depth + 1)
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = dict(convert(node["allOf"][0], components, (), depth + 1))
        merged.update({k: v for k, v in node.items() if k != "allOf"})
        return convert(merged, components, keys, depth + 1)
    out = {}
    for k, v in node.items():
        if k in DROP or k == "nullable" or k == "required":
            continue
        if k == "properties":
            out[k] = {p: nullable(timestamp(p, convert(s, components, (), depth + 1))) for p, s in v.items()}
        elif k == "items":
            out[k] = convert(v, components, (), depth + 1)
        elif k in ("anyOf", "oneOf"):
            out[k] = [convert(s, components, (), depth + 1) for s in v]
        elif k == "enum":
            continue  # Intercom adds values over time; an enum would reject them
        else:
            out[k] = v
    if out.get("type") == "integer" and out.get("format") == "date-time":
        out["type"] = "string"
    elif out.get("format") == "date-time" and out.get("type") != "string":
        out.pop("format")
    if out.get("format", "date-time") != "date-time":
        out.pop("format")
    if "type" not in out and "properties" in out:
        out["type"] = "object"
    elif "type" not in out and "items" in out:
        out["type"] = "array"
    return out


def timestamp(name, schema):
    """Intercom's timestamps are integer UNIX seconds; not all carry `format: date-time`."""
    if schema.get("type") == "integer" and name.endswith("_at"):
        schema["format"] = "date-time"
        schema["type"] = "string"
    return schema


def nullable(schema):
    t = schema.get("type")
    if isinstance(t, str):
        schema["type"] = [t, "null"]
    return schema


def stream_facts():
    # A new stream's schema file must exist for the crate to build.
    streams_rs = open(os.path.join(ROOT, "src", "streams.rs")).read()
    for name in re.findall(r'include_str!\("schemas/([\w.-]+)"\)', streams_rs):
        path = os.path.join(OUT, name)
        if not os.path.exists(path) and "--check" not in sys.argv:
            open(path, "w").close()
    out = subprocess.run(FACTS, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def merged(node, components):
    """A record schema's variants merged into one object schema."""
    if "$ref" in node:
        return merged(components[node["$ref"].rsplit("/", 1)[-1]], components)
    variants = node.get("oneOf", []) + node.get("allOf", [])
    if not variants:
        return node
    out = {k: v for k, v in node.items() if k not in ("oneOf", "allOf", "discriminator")}
    out["type"] = "object"
    properties = {}
    for variant in variants:
        properties.update(merged(variant, components).get("properties", {}))
    out["properties"] = {**properties, **node.get("properties", {})}
    return out


def build(spec, facts):
    components = spec["components"]["schemas"]
    by_name = {stream["name"]: stream for stream in facts["streams"]}

    def derived(stream):
        schema = convert(merged(components[stream["openapi_schema"]], components), components)
        schema["type"] = "object"
        return schema

    result = {}
    for stream in facts["streams"]:
        schema = derived(stream)
        properties = schema["properties"]
        if stream["record_hash"]:
            listed = ", ".join(stream["record_hash"])
            properties[facts["record_hash_field"]] = {
                "type": "string",
                "description": f"SHA-256 (hex) of the JSON array [{listed}]: stable across syncs.",
            }
        for field in stream["parent_fields"]:
            source = derived(by_name[stream["parent"]])["properties"][field["from"]]
            copied = {k: source[k] for k in ("type", "format") if k in source}
            properties[field["name"]] = dict(copied, description=field["description"])
        for field in stream["drop"]:
            del properties[field]
        keys = stream["key_properties"]
        for key in keys:  # keys are never null
            types = properties[key]["type"]
            properties[key]["type"] = types[0] if isinstance(types, list) else types
        schema["required"] = keys
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
        result[stream["name"]] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return result


def main():
    if "--check" in sys.argv and not os.path.exists(SPEC):
        why = f"no OpenAPI description at {SPEC} (set INTERCOM_OPENAPI)"
        if os.environ.get("CI") == "true":
            sys.exit(f"error: gen-schemas.py --check: {why}")
        print(f"gen-schemas.py --check: skipped (the schemas-match-OpenAPI check): {why}")
        return
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    stale = []
    for stream, text in build(spec, stream_facts()).items():
        path = os.path.join(OUT, stream + ".json")
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(path)
            if "--check" not in sys.argv:
                os.makedirs(OUT, exist_ok=True)
                with open(path, "w") as f:
                    f.write(text)
    if "--check" in sys.argv and stale:
        sys.exit("stale schemas (run scripts/gen-schemas.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
