#!/usr/bin/env python3
"""META.json against the PGXN meta spec 1.0.0 (https://pgxn.org/meta/spec.txt): the required
keys and their types, semantic versions, a known license, every provided extension's file
present; and the versions agreeing with apikeys.control and debian/changelog."""
import json
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
errors = []
meta = json.loads((root / "META.json").read_text())
semver = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$")
licenses = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd", "gfdl_1_2",
            "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1",
            "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source", "restricted",
            "unrestricted", "unknown"}
for key, kind in (("name", str), ("abstract", str), ("version", str), ("maintainer", (str, list)),
                  ("license", (str, list, dict)), ("provides", dict), ("meta-spec", dict)):
    if key not in meta:
        errors.append(f"required key {key} is missing")
    elif not isinstance(meta[key], kind):
        errors.append(f"{key} has the wrong type")
if not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", meta.get("name", "")):
    errors.append("name is not a valid distribution name")
if not semver.match(meta.get("version", "")):
    errors.append("version is not a semantic version")
if meta.get("meta-spec", {}).get("version") != "1.0.0":
    errors.append("meta-spec.version must be 1.0.0")
lic = meta.get("license")
if isinstance(lic, str) and lic not in licenses:
    errors.append(f"license {lic} is not one of the spec's")
for ext, p in meta.get("provides", {}).items():
    if not isinstance(p, dict) or "file" not in p or "version" not in p:
        errors.append(f"provides.{ext} needs file and version")
        continue
    if not semver.match(p["version"]):
        errors.append(f"provides.{ext}.version is not a semantic version")
    if not (root / p["file"]).exists() and not (root / "sql" / "schema").is_dir():
        errors.append(f"provides.{ext}.file {p['file']} does not exist")
for phase in meta.get("prereqs", {}).values():
    for rel in phase.values():
        for dep, v in rel.items():
            if not isinstance(v, str) or not (v == "0" or semver.match(v)):
                errors.append(f"prereq {dep} has no valid version")
control = (root / "apikeys.control").read_text()
default = re.search(r"default_version\s*=\s*'([^']+)'", control).group(1)
as_semver = default + ".0" * (2 - default.count("."))
if meta.get("version") != as_semver or meta.get("provides", {}).get("apikeys", {}).get("version") != as_semver:
    errors.append(f"META.json's versions must be {as_semver} (apikeys.control default_version {default})")
changelog = (root / "debian" / "changelog").read_text().splitlines()[0]
m = re.match(r"^apikeys \(([^)]+)\)", changelog)
if not m or m.group(1).split("-")[0] != as_semver:
    errors.append(f"debian/changelog's version must be {as_semver}")
for e in errors:
    print(f"META.json: {e}")
sys.exit(1 if errors else 0)
